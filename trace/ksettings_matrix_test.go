package trace

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
)

// reachable is the ground truth of a way that works: ping from ns to
// addr is answered.
func reachable(t *testing.T, ns string, args ...string) {
	t.Helper()
	c := cmdline.InNamespace(ns, append([]string{"ping", "-c", "1", "-W", "2"}, args...)...)
	if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", strings.Join(c, " "), err, out)
	}
}

// neighborUnresolved is the ground truth of an ARP or ND question nobody
// answers: ns's entry for addr is INCOMPLETE or FAILED.
func neighborUnresolved(t *testing.T, ns, addr string) {
	t.Helper()
	c := cmdline.IP(ns, "neigh", "show", addr)
	out, err := exec.Command(c[0], c[1:]...).Output()
	if err != nil || !strings.Contains(string(out), "FAILED") && !strings.Contains(string(out), "INCOMPLETE") {
		t.Fatalf("%s: %v %q, want an unresolved entry", c, err, out)
	}
}

// noTentative waits until no IPv6 address of A, B or M is tentative:
// until then their link-local addresses send no neighbour solicitation.
func noTentative(t *testing.T, tp *topo) {
	t.Helper()
	for _, ns := range []string{tp.A, tp.B, tp.M} {
		c := cmdline.IP(ns, "-6", "addr", "show", "tentative")
		if !eventually(func() bool {
			out, _ := exec.Command(c[0], c[1:]...).Output()
			return len(strings.TrimSpace(string(out))) == 0
		}) {
			t.Fatalf("%s: addresses still tentative after 30 s", c)
		}
	}
}

// secondLink adds a direct link a1 - b1 (10.95.5.0/24) beside the bridge,
// with reverse-path filtering off in A and B, which an asymmetric path
// needs.
func secondLink(t *testing.T, tp *topo) {
	t.Helper()
	sh(t, "ip", "-n", tp.A, "link", "add", "a1", "type", "veth", "peer", "name", "b1", "netns", tp.B)
	sh(t, "ip", "-n", tp.A, "addr", "add", "10.95.5.1/24", "dev", "a1")
	sh(t, "ip", "-n", tp.B, "addr", "add", "10.95.5.2/24", "dev", "b1")
	for _, c := range [][]string{{tp.A, "a1"}, {tp.B, "b1"}} {
		tp.in(t, c[0], "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf."+c[1]+".rp_filter=0")
		tp.in(t, c[0], "ip", "link", "set", c[1], "up")
	}
}

// TestKernelSettingsMatrix: per-interface settings that decide a probe's
// fate (issue 19) — arp_ignore, arp_filter, proxy_arp, IPv6 forwarding per interface,
// an address DAD holds tentative — each named where it lies, its fix
// applied as printed, all ok after; and a setting that decides nothing
// blamed for nothing.
func TestKernelSettingsMatrix(t *testing.T) {
	all := bothWays("icmp-echo", "tcp")
	v6 := bothWays("icmp6-echo", "tcp6")
	tests := []pathCase{
		{name: "kstate arp_ignore in B for an address on its loopback", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			// A real server of a direct-routing load balancer: the service
			// address on lo, ARP for it ignored on b0, and B's own ARP
			// questions asked from b0's address (arp_announce=2), so A
			// never learns the service address's MAC from them.
			sh(t, "ip", "-n", tp.B, "addr", "add", "10.95.0.10/32", "dev", "lo")
			tp.in(t, tp.B, "sysctl", "-qw", "net.ipv4.conf.b0.arp_ignore=1", "net.ipv4.conf.b0.arp_announce=2")
			tp.toAddr = netip.MustParseAddr("10.95.0.10")
			unreachable(t, tp.A, "10.95.0.10")
			neighborUnresolved(t, tp.A, "10.95.0.10")
		}, want: all(facts.CauseNeighbor, "B", "B answers no ARP for 10.95.0.10 on b0", "arp_ignore is 1 on b0 (net.ipv4.conf.b0.arp_ignore=1, all 0)", "10.95.0.10 is on lo")},
		{name: "kstate arp_filter in B whose route back to A leaves by another link", kind: "bridge", otherPath: true, break_: func(t *testing.T, tp *topo) {
			// A second, direct link a1 - b1, and B's route back to A's
			// address by it: B answers A's ARP on b0 only while
			// arp_filter is off there. Replies coming in by a1 for a0's
			// address are taken with rp_filter off, as the fix needs.
			secondLink(t, tp)
			sh(t, "ip", "-n", tp.B, "route", "add", tp.addrA+"/32", "via", "10.95.5.1", "dev", "b1")
			tp.in(t, tp.B, "sysctl", "-qw", "net.ipv4.conf.b0.arp_filter=1")
			tp.fromAddr, tp.toAddr = netip.MustParseAddr(tp.addrA), netip.MustParseAddr(tp.addrB)
			unreachable(t, tp.A, tp.addrB)
			neighborUnresolved(t, tp.A, tp.addrB)
		}, want: all(facts.CauseNeighbor, "B", "B answers no ARP for 10.95.0.2 on b0: arp_filter is on there (net.ipv4.conf.b0.arp_filter=1, all 0)", "its route back to the asker 10.95.0.1 leaves, and that route leaves by b1")},
		{name: "kstate arp_filter and arp_accept where they decide nothing", kind: "bridge", otherPath: true, break_: func(t *testing.T, tp *topo) {
			// Both links in one subnet on one bridge: arp_filter makes
			// the interface the route back leaves by answer, which is
			// b0; arp_accept only decides whether unsolicited ARP makes
			// entries. Nothing to blame.
			for _, ns := range []string{tp.A, tp.B} {
				tp.in(t, ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_filter=1", "net.ipv4.conf.all.arp_accept=1")
			}
			reachable(t, tp.A, tp.addrB)
			reachable(t, tp.B, tp.addrA)
		}},
		{name: "kstate A's address left behind on the router M", kind: "router", otherPath: true, break_: func(t *testing.T, tp *topo) {
			// A service address moved from M to A and left behind on M's
			// loopback: M takes what comes from it for a martian source.
			tp.in(t, tp.M, "ip", "addr", "add", tp.addrA+"/32", "dev", "lo")
			unreachable(t, tp.A, tp.addrB)
			neighborUnresolved(t, tp.A, tp.mA)
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseConflict, "M", []string{"ARP for 10.96.1.1 from 10.96.1.2, A's address, reaches M on pa, which holds 10.96.1.2 too (10.96.1.2/32 on lo)", "(accept_local is 0 on pa)"}},
			{"A->B", "tcp", facts.CauseConflict, "M", []string{"(accept_local is 0 on pa)"}},
			// B's echo to A's address is answered by M: ok at the socket.
			{"B->A", "icmp-echo", facts.CauseConflict, "M", []string{"M holds 10.96.1.2, A's address, too", "the answers came from M itself"}},
			{"B->A", "tcp", facts.CauseConflict, "M", []string{"M holds 10.96.1.2, A's address, too (10.96.1.2/32 on lo): what is sent to it arrives in M on pb and stays there"}},
		}},
		{name: "kstate A's address left behind on the router M with accept_local on", kind: "router", otherPath: true, break_: func(t *testing.T, tp *topo) {
			// accept_local lets A's packets in and through; B's answers
			// to A's address stay in M.
			tp.in(t, tp.M, "ip", "addr", "add", tp.addrA+"/32", "dev", "lo")
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv4.conf.pa.accept_local=1")
			unreachable(t, tp.A, tp.addrB)
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseConflict, "M", []string{"M holds 10.96.1.2, A's address, too (10.96.1.2/32 on lo): what is sent to it arrives in M on pb and stays there"}},
			{"A->B", "tcp", facts.CauseConflict, "M", []string{"M holds 10.96.1.2, A's address, too"}},
			{"B->A", "icmp-echo", facts.CauseConflict, "M", []string{"the answers came from M itself"}},
			{"B->A", "tcp", facts.CauseConflict, "M", []string{"M holds 10.96.1.2, A's address, too"}},
		}},
		{name: "kstate bridge port with learning and flooding off", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			// The bridge never learns b0's MAC behind pb, and sends frames
			// for it to no port; ARP's broadcasts still cross.
			tp.in(t, tp.M, "bridge", "link", "set", "dev", "pb", "learning", "off", "flood", "off")
			mac := macOf(t, tp.B, "b0")
			// What b0 sent since it came up (IPv6 neighbour discovery) may
			// have taught the bridge already: forgotten, if so.
			del := cmdline.InNamespace(tp.M, "bridge", "fdb", "del", mac, "dev", "pb", "master")
			exec.Command(del[0], del[1:]...).Run()
			show := cmdline.InNamespace(tp.M, "bridge", "fdb", "show", "dev", "pb")
			if out, err := exec.Command(show[0], show[1:]...).Output(); err != nil || strings.Contains(string(out), mac) {
				t.Fatalf("%s: %v %q, want no entry for %s", show, err, out, mac)
			}
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseDropped, "M", "port pb of bridge br0 in M has learning and flooding off, and the bridge has no FDB entry for")},
		{name: "kstate bridge port with flooding off only", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			// Learning finds b0's MAC behind pb from B's first frame:
			// nothing needs flooding there. Nothing to blame.
			tp.in(t, tp.M, "bridge", "link", "set", "dev", "pb", "flood", "off")
			reachable(t, tp.A, tp.addrB)
			reachable(t, tp.B, tp.addrA)
		}},
		{name: "kstate deprecated addresses decide nothing", kind: "router", v6: true, break_: func(t *testing.T, tp *topo) {
			// A deprecated address is still used when it is the only one
			// of its scope, and still answered for.
			sh(t, "ip", "-n", tp.A, "addr", "change", tp.addrA+"/24", "dev", "a0", "preferred_lft", "0")
			sh(t, "ip", "-n", tp.A, "addr", "change", "fd96:1::2/64", "dev", "a0", "preferred_lft", "0", "nodad")
			c := cmdline.IP(tp.A, "addr", "show", "dev", "a0", "deprecated")
			if out, err := exec.Command(c[0], c[1:]...).Output(); err != nil || !strings.Contains(string(out), tp.addrA) || !strings.Contains(string(out), "fd96:1::2") {
				t.Fatalf("%s: %v %q, want both addresses deprecated", c, err, out)
			}
			noTentative(t, tp)
			reachable(t, tp.A, tp.addrB)
			reachable(t, tp.A, "-6", "fd96:2::2")
		}},
		{name: "kstate A's IPv6 address left behind on the router M", kind: "router", v6: true, otherPath: true, break_: func(t *testing.T, tp *topo) {
			// IPv6 takes a packet from an address of its own; the answers
			// to it stay in M.
			tp.in(t, tp.M, "ip", "addr", "add", "fd96:1::2/128", "dev", "lo", "nodad")
			noTentative(t, tp)
			unreachable(t, tp.A, "fd96:2::2")
		}, want: []pathWant{
			{"A->B", "icmp6-echo", facts.CauseConflict, "M", []string{"M holds fd96:1::2, A's address, too (fd96:1::2/128 on lo): what is sent to it arrives in M on pb and stays there"}},
			{"A->B", "tcp6", facts.CauseConflict, "M", []string{"M holds fd96:1::2, A's address, too"}},
			{"B->A", "icmp6-echo", facts.CauseConflict, "M", []string{"the answers came from M itself"}},
			{"B->A", "tcp6", facts.CauseConflict, "M", []string{"M holds fd96:1::2, A's address, too"}},
		}},
		{name: "kstate proxy_arp off in the router A takes B to be on-link", kind: "router", otherPath: true, break_: func(t *testing.T, tp *topo) {
			// A's address widened to /16: B's address looks on-link to A,
			// which asks ARP for it on a0, where only M could answer.
			sh(t, "ip", "-n", tp.A, "addr", "del", tp.addrA+"/24", "dev", "a0")
			sh(t, "ip", "-n", tp.A, "addr", "add", tp.addrA+"/16", "dev", "a0")
			sh(t, "ip", "-n", tp.A, "route", "replace", "default", "via", tp.mA)
			unreachable(t, tp.A, tp.addrB)
			neighborUnresolved(t, tp.A, tp.addrB)
		}, want: all(facts.CauseNeighbor, "M", "A's route to 10.96.2.2 (10.96.0.0/16 dev a0) takes it to be on-link", "M answers ARP for 10.96.2.2 on pa only with proxy_arp (net.ipv4.conf.pa.proxy_arp=0, all 0)")},
		{name: "kstate IPv6 forwarding off on one router interface only", kind: "router", v6: true, break_: func(t *testing.T, tp *topo) {
			// ip6_forward reads conf.all: a router forwards IPv6 whatever
			// the interface's own value says. Nothing to blame.
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv6.conf.pa.forwarding=0")
			// An interface that does not forward is a host's: its
			// neighbour solicitations wait for its link-local address's
			// duplicate address detection.
			noTentative(t, tp)
			reachable(t, tp.A, "-6", "fd96:2::2")
			reachable(t, tp.B, "-6", "fd96:1::2")
		}},
		{name: "kstate IPv6 forwarding on per interface only", kind: "router", v6: true, break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv6.conf.pa.forwarding=1", "net.ipv6.conf.pb.forwarding=1")
			unreachable(t, tp.A, "fd96:2::2")
		}, want: v6(facts.CauseDropped, "M", "forwarding is off in M (net.ipv6.conf.all.forwarding=0)", "forwarding=1 does not forward by itself: the kernel forwards IPv6 by conf.all alone")},
		{name: "kstate tentative IPv6 address in A", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			// Duplicate address detection that takes ten minutes: A's
			// address stays tentative through the trace.
			sh(t, "ip", "-n", tp.B, "addr", "add", "fd95::2/64", "dev", "b0", "nodad")
			tp.in(t, tp.A, "sysctl", "-qw", "net.ipv6.neigh.a0.retrans_time_ms=600000", "net.ipv6.conf.a0.dad_transmits=1")
			sh(t, "ip", "-n", tp.A, "addr", "add", "fd95::1/64", "dev", "a0")
			c := cmdline.IP(tp.A, "-6", "addr", "show", "dev", "a0", "tentative")
			if out, err := exec.Command(c[0], c[1:]...).Output(); err != nil || !strings.Contains(string(out), "fd95::1") {
				t.Fatalf("%s: %v %q, want fd95::1 tentative", c, err, out)
			}
			p := cmdline.InNamespace(tp.A, "ping", "-6", "-c", "1", "-W", "1", "-I", "fd95::1", "fd95::2")
			if exec.Command(p[0], p[1:]...).Run() == nil {
				t.Fatal("ping from the tentative address answered")
			}
		}, want: []pathWant{
			{"A->B", "icmp6-echo", facts.CauseDropped, "A", []string{"fd95::1 on a0 in A is tentative", "added again with nodad"}},
			{"A->B", "tcp6", facts.CauseDropped, "A", []string{"fd95::1 on a0 in A is tentative"}},
			{"B->A", "icmp6-echo", facts.CauseDropped, "A", []string{"fd95::1 on a0 in A is tentative"}},
			{"B->A", "tcp6", facts.CauseDropped, "A", []string{"fd95::1 on a0 in A is tentative"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runPathCase(t, "n3k", tt) })
	}
}
