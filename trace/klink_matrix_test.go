package trace

import (
	"net/netip"
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
)

// macvlans gives A and B a macvlan each (mva, mvb, 10.98.0.1 and .2) on
// one parent in M (pm, a veth whose peer pn stays in M), A's in modeA,
// and has the traces probe those addresses.
func macvlans(t *testing.T, tp *topo, modeA string) {
	t.Helper()
	tp.in(t, tp.M, "ip", "link", "add", "pm", "type", "veth", "peer", "name", "pn")
	tp.in(t, tp.M, "ip", "link", "set", "pm", "up")
	tp.in(t, tp.M, "ip", "link", "set", "pn", "up")
	for _, e := range []struct{ ns, dev, mode, addr string }{{tp.A, "mva", modeA, "10.98.0.1"}, {tp.B, "mvb", "bridge", "10.98.0.2"}} {
		tp.in(t, tp.M, "ip", "link", "add", e.dev, "link", "pm", "type", "macvlan", "mode", e.mode)
		tp.in(t, tp.M, "ip", "link", "set", e.dev, "netns", e.ns)
		sh(t, "ip", "-n", e.ns, "addr", "add", e.addr+"/24", "dev", e.dev)
		sh(t, "ip", "-n", e.ns, "link", "set", e.dev, "up")
	}
	tp.fromAddr, tp.toAddr = netip.MustParseAddr("10.98.0.1"), netip.MustParseAddr("10.98.0.2")
}

// vxlans gives A and B a vxlan each (vx0, 10.99.0.1 and .2) over their
// veths through M's bridge, B's with VNI vniB and A's sending to remote.
// Neither learns remotes from what it receives (as with a control plane
// that installs them): A's frames go to its remote whatever B sends it.
func vxlans(t *testing.T, tp *topo, vniB, remote string) {
	t.Helper()
	for _, e := range []struct{ ns, vni, remote, local, dev, addr string }{
		{tp.A, "42", remote, tp.addrA, "a0", "10.99.0.1"}, {tp.B, vniB, tp.addrA, tp.addrB, "b0", "10.99.0.2"},
	} {
		sh(t, "ip", "-n", e.ns, "link", "add", "vx0", "type", "vxlan", "id", e.vni, "remote", e.remote, "local", e.local, "dev", e.dev, "dstport", "4789", "nolearning")
		sh(t, "ip", "-n", e.ns, "addr", "add", e.addr+"/24", "dev", "vx0")
		sh(t, "ip", "-n", e.ns, "link", "set", "vx0", "up")
	}
	tp.fromAddr, tp.toAddr = netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.99.0.2")
}

// TestLinkKindMatrix: what the kind of the link between two namespaces
// decides (issue 19), macvlan and vxlan (the drivers this kernel has;
// ipvlan, dummy and vrf it lacks): healthy, they are all ok; a macvlan in
// private mode, a vxlan with another VNI or the wrong remote are named
// where they lie, with a fix that works as printed.
func TestLinkKindMatrix(t *testing.T) {
	all := bothWays("icmp-echo", "tcp")
	tests := []pathCase{
		{name: "kstate macvlans in bridge mode", kind: "bridge", otherPath: true, break_: func(t *testing.T, tp *topo) {
			macvlans(t, tp, "bridge")
			reachable(t, tp.A, "10.98.0.2")
		}},
		{name: "kstate macvlan in private mode", kind: "bridge", otherPath: true, break_: func(t *testing.T, tp *topo) {
			macvlans(t, tp, "private")
			unreachable(t, tp.A, "10.98.0.2")
		}, want: all(facts.CauseDropped, "A", "mva in A and mvb in B are macvlans of one parent, M/pm: mva in A is in private mode", "only when both are in bridge mode")},
		{name: "kstate vxlan healthy", kind: "bridge", otherPath: true, break_: func(t *testing.T, tp *topo) {
			vxlans(t, tp, "42", tp.addrB)
			reachable(t, tp.A, "10.99.0.2")
		}},
		{name: "kstate vxlan with another VNI in B", kind: "bridge", otherPath: true, break_: func(t *testing.T, tp *topo) {
			vxlans(t, tp, "43", tp.addrB)
			unreachable(t, tp.A, "10.99.0.2")
		}, want: all(facts.CauseDropped, "B", "vx0 in A sends VNI 42 to port 4789, but vx0 in B takes VNI 43 on port 4789")},
		{name: "kstate vxlan to the wrong remote", kind: "bridge", otherPath: true, break_: func(t *testing.T, tp *topo) {
			vxlans(t, tp, "42", "10.95.0.99")
			unreachable(t, tp.A, "10.99.0.2")
		}, want: all(facts.CauseDropped, "A", "vx0 in A sends its VXLAN frames to remote 10.95.0.99, which B does not hold: B's vx0 takes them on 10.95.0.2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runPathCase(t, "n3k", tt) })
	}
}
