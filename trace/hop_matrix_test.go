package trace

import (
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
)

// TestHopFaultMatrix: faults that only a path through a router (or a
// bridge) shows, each
// broken, traced, judged, fixed as printed and traced again (runPathCase).
// The router topology: A 10.96.1.2 (a0) - (pa 10.96.1.1) M (pb 10.96.2.1) -
// (b0 10.96.2.2) B, default routes via M.
func TestHopFaultMatrix(t *testing.T) {
	// smallerMTU gives the router's link toward B (both ends: a veth pair
	// whose ends disagree is a case of its own) an MTU of 1280, while A's
	// link to the router keeps 1500: what A sends at its MTU the router
	// cannot forward and answers with frag-needed.
	smallerMTU := func(t *testing.T, tp *topo) {
		tp.in(t, tp.M, "ip", "link", "set", "pb", "mtu", "1280")
		tp.in(t, tp.B, "ip", "link", "set", "b0", "mtu", "1280")
	}
	// dropICMPUnreachable is the firewall that drops every ICMP
	// destination-unreachable in ns's chain on hook: what makes a path-MTU
	// black hole, while echoes pass.
	dropICMPUnreachable := func(ns, hook string) func(t *testing.T, tp *topo) {
		return func(t *testing.T, tp *topo) {
			smallerMTU(t, tp)
			name := map[string]string{"A": tp.A, "M": tp.M}[ns]
			tp.in(t, name, "nft", "add table inet pmx")
			tp.in(t, name, "nft", "add chain inet pmx c { type filter hook "+hook+" priority 0; }")
			tp.in(t, name, "nft", "add rule inet pmx c icmp type echo-request accept") // passes the probes
			tp.in(t, name, "nft", "add rule inet pmx c icmp type destination-unreachable drop")
		}
	}
	tests := []pathCase{
		// Path-MTU discovery working: the router's frag-needed reaches A,
		// which learns the path MTU; the mtu probe is ok and says so.
		{name: "router smaller MTU and frag-needed reaches the sender", kind: "router", break_: smallerMTU,
			anyDetail: "path MTU 1280"},
		// The router's own firewall drops the frag-needed it sends: the
		// namespace whose MTU is smaller and the one where the error dies
		// are the same, M, and deleting its rule restores discovery.
		{name: "router smaller MTU and frag-needed dropped in the router", kind: "router", break_: dropICMPUnreachable("M", "output"),
			want: []pathWant{{"A->B", facts.KindMTU, facts.CauseMTU, "M", []string{"M/pb has MTU 1280, less than the 1500-byte packets with DF A sends on a0",
				"frag-needed", `"icmp type destination-unreachable drop" (inet pmx c handle 3, hook output) in M`, "path-MTU black hole"}}}},
		// A host firewall in A drops it on the way in: the error dies in A,
		// so A is blamed (its rule is what to change), the MTUs named.
		{name: "router smaller MTU and frag-needed dropped in the sender", kind: "router", break_: dropICMPUnreachable("A", "input"),
			want: []pathWant{{"A->B", facts.KindMTU, facts.CauseMTU, "A", []string{"M/pb has MTU 1280", "1500-byte packets with DF A sends on a0",
				"(inet pmx c handle 3, hook input) in A", "path-MTU black hole"}}}},
		{name: "router ARP off on the veth in B", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.B, "ip", "link", "set", "dev", "b0", "arp", "off")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseNeighbor, "B", []string{"entered M on pa, never left M", "ARP is off on b0 in B (the NOARP flag)"}},
			{"A->B", "tcp", facts.CauseNeighbor, "B", []string{"ARP is off on b0 in B"}},
			{"B->A", "icmp-echo", facts.CauseNeighbor, "B", []string{"ARP is off on b0 in B"}},
			{"B->A", "tcp", facts.CauseNeighbor, "B", []string{"ARP is off on b0 in B"}},
		}},
		// On a bridge: A's ARP crosses the bridge to B, which ignores it;
		// B's frames carry its own MAC as destination, which the bridge
		// has learnt on B's own port and does not send back there.
		{name: "bridge ARP off on the veth in B", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.B, "ip", "link", "set", "dev", "b0", "arp", "off")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseNeighbor, "B", []string{"the neighbour resolution left A on a0", "entered B on b0", "ARP is off on b0 in B"}},
			{"A->B", "tcp", facts.CauseNeighbor, "B", []string{"ARP is off on b0 in B"}},
			{"B->A", "icmp-echo", facts.CauseNeighbor, "B", []string{"ARP is off on b0 in B"}},
			{"B->A", "tcp", facts.CauseNeighbor, "B", []string{"ARP is off on b0 in B"}},
		}},
		{name: "router ARP off on its port toward B", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "ip", "link", "set", "dev", "pb", "arp", "off")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseNeighbor, "M", []string{"ARP is off on pb in M (the NOARP flag)"}},
			{"A->B", "tcp", facts.CauseNeighbor, "M", []string{"ARP is off on pb in M"}},
			{"B->A", "icmp-echo", facts.CauseNeighbor, "M", []string{"the neighbour resolution left B on b0, entered M on pb", "ARP is off on pb in M"}},
			{"B->A", "tcp", facts.CauseNeighbor, "M", []string{"ARP is off on pb in M"}},
		}},
		// B's firewall drops ARP both ways, so nobody ever learns B's MAC
		// (dropping only B's input would let M learn it from B's own
		// requests, when they come first: a race). The router's neighbour
		// for B never resolves; the rules that make it so are B's.
		{name: "router neighbour for B never resolves", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.B, "nft", "add table arp pmx")
			tp.in(t, tp.B, "nft", "add chain arp pmx in { type filter hook input priority 0; }")
			tp.in(t, tp.B, "nft", "add chain arp pmx out { type filter hook output priority 0; }")
			tp.in(t, tp.B, "nft", "add rule arp pmx in drop")
			tp.in(t, tp.B, "nft", "add rule arp pmx out drop")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseNeighbor, "B", []string{"entered M on pa, never left M", "M's neighbour entry for 10.96.2.2 on pb is",
				"which holds 10.96.2.2, drops ARP", "(arp pmx in handle 3, hook input) in B"}},
			{"A->B", "tcp", facts.CauseNeighbor, "B", []string{"M's neighbour entry for 10.96.2.2 on pb is"}},
			{"B->A", "icmp-echo", facts.CauseNeighbor, "B", []string{"nothing left B on b0", "B's neighbour entry for 10.96.2.1 on b0 is", "(arp pmx out handle 4, hook output) in B"}},
			{"B->A", "tcp", facts.CauseNeighbor, "B", []string{"B's neighbour entry for 10.96.2.1 on b0 is"}},
		}},
		// The router's own firewall drops ARP on its port toward B, both
		// ways (dropping only its requests would let it learn B's MAC from
		// B's, when they come first: a race): its neighbour for B never
		// resolves, and the rules are its own.
		{name: "router neighbour for B never resolves, the router drops ARP", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "nft", "add table arp pmx")
			tp.in(t, tp.M, "nft", "add chain arp pmx in { type filter hook input priority 0; }")
			tp.in(t, tp.M, "nft", "add chain arp pmx out { type filter hook output priority 0; }")
			tp.in(t, tp.M, "nft", `add rule arp pmx in iifname "pb" drop`)
			tp.in(t, tp.M, "nft", `add rule arp pmx out oifname "pb" drop`)
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseNeighbor, "M", []string{"entered M on pa, never left M", "M's neighbour entry for 10.96.2.2 on pb is",
				"drops its own ARP", "(arp pmx out handle 4, hook output) in M"}},
			{"A->B", "tcp", facts.CauseNeighbor, "M", []string{"M's neighbour entry for 10.96.2.2 on pb is"}},
			{"B->A", "icmp-echo", facts.CauseNeighbor, "M", []string{"the neighbour resolution left B on b0, entered M on pb, which never answered", "M drops ARP", "(arp pmx in handle 3, hook input) in M"}},
			{"B->A", "tcp", facts.CauseNeighbor, "M", []string{"M drops ARP"}},
		}},
		// A second link between A and M (a1 10.96.4.2 - pa1 10.96.4.1), and
		// M's route to A's address through it: M sends to A by pa1 what
		// comes from A by pa, and strict reverse-path filtering in M refuses
		// all that comes from A on pa, A's ARP requests for M included.
		{name: "router rp_filter with an asymmetric route", kind: "router", otherPath: true, break_: func(t *testing.T, tp *topo) {
			sh(t, "ip", "-n", tp.A, "link", "add", "a1", "type", "veth", "peer", "name", "pa1", "netns", tp.M)
			sh(t, "ip", "-n", tp.A, "addr", "add", "10.96.4.2/24", "dev", "a1")
			tp.in(t, tp.M, "ip", "addr", "add", "10.96.4.1/24", "dev", "pa1")
			sh(t, "ip", "-n", tp.A, "link", "set", "a1", "up")
			tp.in(t, tp.M, "ip", "link", "set", "pa1", "up")
			tp.in(t, tp.M, "ip", "route", "add", tp.addrA+"/32", "via", "10.96.4.2", "dev", "pa1")
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{"the neighbour resolution left A on a0, entered M on pa, which never answered", "reverse-path filtering (rp_filter) in M"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"rp_filter"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"entered A on a1; the answer's neighbour resolution left A on a0, entered M on pa", "rp_filter"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"rp_filter"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runPathCase(t, "mx", tt) })
	}
}
