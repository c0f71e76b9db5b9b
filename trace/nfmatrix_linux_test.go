package trace

import (
	"context"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/internal/shellwords"
	"github.com/nsdump/nsdump/trace/facts"
)

// The fault matrix of rulesets as hosts write them: Docker's chains by
// iptables-nft commands, NAT by iptables-nft, in the namespaces of an A -
// M - B topology (routed), with C, a "container" on a bridge in B, behind
// B's published port. Each case asserts cause@namespace and that the
// detail names the kernel's decision (the rule as written and its chain
// path) or the translation, then applies the printed fixes and traces
// again: all ok, or the case says why it cannot.

// nfWant is one failing probe; namespaces by letter (A, B, M, C).
type nfWant struct {
	direction string
	kind      facts.ProbeKind
	cause     facts.Cause
	namespace string
	detail    []string
}

type nfCase struct {
	name   string
	bridge bool // M bridges A and B instead of routing
	break_ func(t *testing.T, tp *topo, c string)
	want   []nfWant
	// okDetail are parts of the detail of the A->B tcp probe when it is
	// ok (a translation it passed).
	okDetail []string
	// noRetrace says why the printed fixes are not applied and traced
	// again.
	noRetrace string
	// listenFix: the fix starts a listener that runs until stopped (nc
	// -l): it is started in the background and waited for.
	listenFix bool
	// into is the path A->B's TCP probe takes past a DNAT in B: the
	// hops' namespaces by letter ("A M B C"), C's sightings its own.
	into string
	// ownDNAT is where B's DNAT sends the flow when it is an address of
	// B's own (B the path's destination); else it is C's 10.94.1.5:8080.
	ownDNAT string
	// absent is what no detail may say.
	absent string
	// fixes, when set, are the fixes the failed probes must print, all
	// of them, applied in this order.
	fixes []string
}

// ipt runs iptables-nft in ns.
func ipt(t *testing.T, ns string, args ...string) {
	t.Helper()
	inNS(t, ns, append([]string{"iptables-nft"}, args...)...)
}

// dockerChains writes Docker's filter chains in M for two networks, one
// on pa (A's) and one on pb (B's), as dockerd does with the nft back end.
func dockerChains(t *testing.T, tool, m string) {
	t.Helper()
	for _, args := range [][]string{
		{"-N", "DOCKER-USER"}, {"-N", "DOCKER-ISOLATION-STAGE-1"}, {"-N", "DOCKER-ISOLATION-STAGE-2"},
		{"-A", "FORWARD", "-j", "DOCKER-USER"}, {"-A", "FORWARD", "-j", "DOCKER-ISOLATION-STAGE-1"},
		{"-A", "DOCKER-ISOLATION-STAGE-1", "-i", "pa", "!", "-o", "pa", "-j", "DOCKER-ISOLATION-STAGE-2"},
		{"-A", "DOCKER-ISOLATION-STAGE-1", "-i", "pb", "!", "-o", "pb", "-j", "DOCKER-ISOLATION-STAGE-2"},
		{"-A", "DOCKER-ISOLATION-STAGE-1", "-j", "RETURN"},
		{"-A", "DOCKER-ISOLATION-STAGE-2", "-o", "pa", "-j", "DROP"},
		{"-A", "DOCKER-ISOLATION-STAGE-2", "-o", "pb", "-j", "DROP"},
		{"-A", "DOCKER-ISOLATION-STAGE-2", "-j", "RETURN"},
		{"-A", "DOCKER-USER", "-j", "RETURN"},
	} {
		inNS(t, m, append([]string{tool}, args...)...)
	}
}

// legacy runs iptables-legacy in ns with each of cmds, its filter table
// flushed when the test ends.
func legacy(t *testing.T, ns string, cmds [][]string) {
	t.Helper()
	t.Cleanup(func() { exec.Command("ip", "netns", "exec", ns, "iptables-legacy", "-F").Run() })
	for _, args := range cmds {
		inNS(t, ns, append([]string{"iptables-legacy"}, args...)...)
	}
}

// container puts namespace c on a bridge in b, as Docker does a user
// network's container: B 10.94.1.1/24 on br-1f2e3d4c5b6a, C 10.94.1.5.
func container(t *testing.T, b, c string) {
	t.Helper()
	sh(t, "ip", "netns", "add", c)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", c).Run() })
	inNS(t, b, "ip", "link", "add", "br-1f2e3d4c5b6a", "type", "bridge")
	inNS(t, b, "ip", "addr", "add", "10.94.1.1/24", "dev", "br-1f2e3d4c5b6a")
	inNS(t, b, "ip", "link", "set", "br-1f2e3d4c5b6a", "up")
	inNS(t, b, "ip", "link", "add", "vethc", "type", "veth", "peer", "name", "eth0", "netns", c)
	inNS(t, b, "ip", "link", "set", "vethc", "master", "br-1f2e3d4c5b6a", "up")
	inNS(t, c, "ip", "addr", "add", "10.94.1.5/24", "dev", "eth0")
	inNS(t, c, "ip", "link", "set", "eth0", "up")
	inNS(t, c, "ip", "link", "set", "lo", "up")
	inNS(t, c, "ip", "route", "add", "default", "via", "10.94.1.1")
	inNS(t, b, "sysctl", "-qw", "net.ipv4.ip_forward=1")
}

// publish writes Docker's DNAT of B's port 7096 to C's 8080.
func publish(t *testing.T, b string) {
	t.Helper()
	ipt(t, b, "-t", "nat", "-N", "DOCKER")
	ipt(t, b, "-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER")
	ipt(t, b, "-t", "nat", "-A", "DOCKER", "!", "-i", "br-1f2e3d4c5b6a", "-p", "tcp", "--dport", "7096", "-j", "DNAT", "--to-destination", "10.94.1.5:8080")
}

// legacyPublish writes Docker's DNAT of B's port 7096 to C's 8080 as its
// iptables-legacy back end does; B's legacy nat table is flushed at the
// end.
func legacyPublish(t *testing.T, b string) {
	t.Helper()
	t.Cleanup(func() { exec.Command("ip", "netns", "exec", b, "iptables-legacy", "-t", "nat", "-F").Run() })
	legacy(t, b, [][]string{
		{"-t", "nat", "-N", "DOCKER"},
		{"-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"},
		{"-t", "nat", "-A", "DOCKER", "!", "-i", "br-1f2e3d4c5b6a", "-p", "tcp", "--dport", "7096", "-j", "DNAT", "--to-destination", "10.94.1.5:8080"},
	})
}

// nftPublish writes B's published port 7096 as a plain nft DNAT to
// (not iptables), as a host's own nftables.conf does.
func nftPublish(t *testing.T, b, to string) {
	t.Helper()
	inNS(t, b, "nft", "add table ip nat")
	inNS(t, b, "nft", "add chain ip nat prerouting { type nat hook prerouting priority dstnat; }")
	inNS(t, b, "nft", "add rule ip nat prerouting tcp dport 7096 dnat to "+to)
}

// listenIn listens on port in namespace ns until the test ends.
func listenAt(t *testing.T, ns string, port uint16) {
	t.Helper()
	s, err := openSide(nil, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ns.Close() })
	l, _, err := listenOrFind(s, 4, port)
	if err != nil || l == nil {
		t.Fatalf("listen on %d in %s: %v", port, ns, err)
	}
	t.Cleanup(func() { l.Close() })
}

var dockerIsolation = []string{"FORWARD -> DOCKER-ISOLATION-STAGE-1 -> DOCKER-ISOLATION-STAGE-2", "docker writes it again"}

func TestNFTraceFaultMatrix(t *testing.T) {
	tests := []nfCase{
		{name: "docker isolation of two networks", break_: func(t *testing.T, tp *topo, _ string) {
			dockerChains(t, "iptables-nft", tp.M)
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", append([]string{`"iptables -t filter -A DOCKER-ISOLATION-STAGE-2 -o pb -j DROP"`}, dockerIsolation...)},
			{"A->B", "tcp", facts.CauseDropped, "M", append([]string{"-A DOCKER-ISOLATION-STAGE-2 -o pb -j DROP"}, dockerIsolation...)},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", append([]string{"-A DOCKER-ISOLATION-STAGE-2 -o pa -j DROP"}, dockerIsolation...)},
			{"B->A", "tcp", facts.CauseDropped, "M", append([]string{"-A DOCKER-ISOLATION-STAGE-2 -o pa -j DROP"}, dockerIsolation...)},
		}},
		{name: "docker isolation with iptables-legacy", break_: func(t *testing.T, tp *topo, _ string) {
			dockerChains(t, "iptables-legacy", tp.M)
			t.Cleanup(func() { exec.Command("ip", "netns", "exec", tp.M, "iptables-legacy", "-F").Run() })
		}, want: []nfWant{
			// Legacy rules are invisible to the nftables trace: nsdump's
			// evaluator follows the jumps, and the verdict says so.
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{`iptables-legacy rule 2 of chain DOCKER-ISOLATION-STAGE-2 (table filter) in M: "-A DOCKER-ISOLATION-STAGE-2 -o pb -j DROP", reached by FORWARD -> DOCKER-ISOLATION-STAGE-1 -> DOCKER-ISOLATION-STAGE-2`, "own evaluation of the rules", "docker writes it again"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"-A DOCKER-ISOLATION-STAGE-2 -o pb -j DROP", "FORWARD -> DOCKER-ISOLATION-STAGE-1 -> DOCKER-ISOLATION-STAGE-2"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"iptables-legacy rule 1 of chain DOCKER-ISOLATION-STAGE-2", "-o pa -j DROP"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"iptables-legacy rule 1 of chain DOCKER-ISOLATION-STAGE-2"}},
		}, fixes: []string{
			// By spec: rule 1 deleted first renumbers the other, which a
			// fix by number ("-D ... 2") would then miss.
			"ip netns exec M iptables-legacy -D DOCKER-ISOLATION-STAGE-2 -o pa -j DROP",
			"ip netns exec M iptables-legacy -D DOCKER-ISOLATION-STAGE-2 -o pb -j DROP",
		}},
		{name: "docker icc off on a bridge with br_netfilter", bridge: true, break_: func(t *testing.T, tp *topo, _ string) {
			// Docker's enable_icc=false: bridged frames pass iptables'
			// FORWARD (br_netfilter, per namespace) and meet a DROP.
			inNS(t, tp.M, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
			ipt(t, tp.M, "-A", "FORWARD", "-i", "br0", "-o", "br0", "-j", "DROP")
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{`"iptables -t filter -A FORWARD -i br0 -o br0 -j DROP"`}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"-A FORWARD -i br0 -o br0 -j DROP"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"-A FORWARD -i br0 -o br0 -j DROP"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"-A FORWARD -i br0 -o br0 -j DROP"}},
		}},
		{name: "asymmetric routing with ct state invalid drop", break_: func(t *testing.T, tp *topo, _ string) {
			// B reaches A by a link of their own; A answers through M,
			// whose conntrack sees one side of each flow.
			sh(t, "ip", "-n", tp.A, "link", "add", "ax", "type", "veth", "peer", "name", "bx", "netns", tp.B)
			inNS(t, tp.A, "ip", "addr", "add", "10.97.0.1/24", "dev", "ax")
			inNS(t, tp.B, "ip", "addr", "add", "10.97.0.2/24", "dev", "bx")
			inNS(t, tp.A, "ip", "link", "set", "ax", "up")
			inNS(t, tp.B, "ip", "link", "set", "bx", "up")
			inNS(t, tp.B, "ip", "route", "add", tp.addrA, "via", "10.97.0.1")
			for _, k := range []string{"all", "default", "ax"} {
				inNS(t, tp.A, "sysctl", "-qw", "net.ipv4.conf."+k+".rp_filter=0")
			}
			inNS(t, tp.M, "nft", "add table inet f; add chain inet f fw { type filter hook forward priority 0; }; add rule inet f fw ct state invalid drop")
		}, want: []nfWant{
			{"A->B", "tcp", facts.CauseDropped, "M", []string{`nftables rule "ct state invalid drop" (inet f fw handle 2)`}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"the answer was dropped in M", "ct state invalid drop"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"the answer was dropped in M", "ct state invalid drop"}},
		}},
		{name: "docker internal network", break_: func(t *testing.T, tp *topo, _ string) {
			ipt(t, tp.M, "-N", "DOCKER-ISOLATION-STAGE-1")
			ipt(t, tp.M, "-A", "FORWARD", "-j", "DOCKER-ISOLATION-STAGE-1")
			ipt(t, tp.M, "-A", "DOCKER-ISOLATION-STAGE-1", "!", "-s", "10.96.1.0/24", "-o", "pa", "-j", "DROP")
			ipt(t, tp.M, "-A", "DOCKER-ISOLATION-STAGE-1", "!", "-d", "10.96.1.0/24", "-i", "pa", "-j", "DROP")
			ipt(t, tp.M, "-A", "DOCKER-ISOLATION-STAGE-1", "-j", "RETURN")
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{"-A DOCKER-ISOLATION-STAGE-1 ! -d 10.96.1.0/24 -i pa -j DROP", "FORWARD -> DOCKER-ISOLATION-STAGE-1"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"-A DOCKER-ISOLATION-STAGE-1 ! -d 10.96.1.0/24 -i pa -j DROP"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"-A DOCKER-ISOLATION-STAGE-1 ! -s 10.96.1.0/24 -o pa -j DROP"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"-A DOCKER-ISOLATION-STAGE-1 ! -s 10.96.1.0/24 -o pa -j DROP"}},
		}},
		{name: "docker-user drop", break_: func(t *testing.T, tp *topo, _ string) {
			dockerChains(t, "iptables-nft", tp.M)
			ipt(t, tp.M, "-D", "DOCKER-ISOLATION-STAGE-2", "-o", "pa", "-j", "DROP")
			ipt(t, tp.M, "-D", "DOCKER-ISOLATION-STAGE-2", "-o", "pb", "-j", "DROP")
			ipt(t, tp.M, "-I", "DOCKER-USER", "-s", "10.96.1.2", "-j", "DROP")
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{"the request was dropped in M", `"iptables -t filter -A DOCKER-USER -s 10.96.1.2/32 -j DROP"`, "FORWARD -> DOCKER-USER"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"-A DOCKER-USER -s 10.96.1.2/32 -j DROP"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"the answer was dropped in M", "-A DOCKER-USER -s 10.96.1.2/32 -j DROP"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"the answer was dropped in M", "-A DOCKER-USER -s 10.96.1.2/32 -j DROP"}},
		}, absent: "docker writes it again"}, // DOCKER-USER holds the user's own rules
		// Docker's other chains as its iptables-legacy back end writes
		// them: nsdump's evaluator follows the jumps, and each fix deletes
		// the rule by its spec.
		{name: "docker internal network with iptables-legacy", break_: func(t *testing.T, tp *topo, _ string) {
			legacy(t, tp.M, [][]string{
				{"-N", "DOCKER-ISOLATION-STAGE-1"}, {"-A", "FORWARD", "-j", "DOCKER-ISOLATION-STAGE-1"},
				{"-A", "DOCKER-ISOLATION-STAGE-1", "!", "-s", "10.96.1.0/24", "-o", "pa", "-j", "DROP"},
				{"-A", "DOCKER-ISOLATION-STAGE-1", "!", "-d", "10.96.1.0/24", "-i", "pa", "-j", "DROP"},
				{"-A", "DOCKER-ISOLATION-STAGE-1", "-j", "RETURN"},
			})
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{`iptables-legacy rule 2 of chain DOCKER-ISOLATION-STAGE-1 (table filter) in M: "-A DOCKER-ISOLATION-STAGE-1 ! -d 10.96.1.0/24 -i pa -j DROP", reached by FORWARD -> DOCKER-ISOLATION-STAGE-1`, "own evaluation of the rules", "docker writes it again"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"-A DOCKER-ISOLATION-STAGE-1 ! -d 10.96.1.0/24 -i pa -j DROP"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"iptables-legacy rule 1 of chain DOCKER-ISOLATION-STAGE-1", "-A DOCKER-ISOLATION-STAGE-1 ! -s 10.96.1.0/24 -o pa -j DROP"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"-A DOCKER-ISOLATION-STAGE-1 ! -s 10.96.1.0/24 -o pa -j DROP"}},
		}, fixes: []string{
			"ip netns exec M iptables-legacy -D DOCKER-ISOLATION-STAGE-1 '!' -s 10.96.1.0/24 -o pa -j DROP",
			"ip netns exec M iptables-legacy -D DOCKER-ISOLATION-STAGE-1 '!' -d 10.96.1.0/24 -i pa -j DROP",
		}},
		{name: "docker-user drop with iptables-legacy", break_: func(t *testing.T, tp *topo, _ string) {
			dockerChains(t, "iptables-legacy", tp.M)
			legacy(t, tp.M, [][]string{
				{"-D", "DOCKER-ISOLATION-STAGE-2", "-o", "pa", "-j", "DROP"},
				{"-D", "DOCKER-ISOLATION-STAGE-2", "-o", "pb", "-j", "DROP"},
				{"-I", "DOCKER-USER", "-s", "10.96.1.2", "-j", "DROP"},
			})
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{`iptables-legacy rule 1 of chain DOCKER-USER (table filter) in M: "-A DOCKER-USER -s 10.96.1.2/32 -j DROP", reached by FORWARD -> DOCKER-USER`}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"-A DOCKER-USER -s 10.96.1.2/32 -j DROP"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"-A DOCKER-USER -s 10.96.1.2/32 -j DROP"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"-A DOCKER-USER -s 10.96.1.2/32 -j DROP"}},
		}, absent: "docker writes it again", fixes: []string{
			"ip netns exec M iptables-legacy -D DOCKER-USER -s 10.96.1.2/32 -j DROP",
		}},
		{name: "docker icc off on a bridge with br_netfilter and iptables-legacy", bridge: true, break_: func(t *testing.T, tp *topo, _ string) {
			inNS(t, tp.M, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
			legacy(t, tp.M, [][]string{{"-A", "FORWARD", "-i", "br0", "-o", "br0", "-j", "DROP"}})
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{`iptables-legacy rule 1 of chain FORWARD (table filter) in M: "-A FORWARD -i br0 -o br0 -j DROP"`}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"-A FORWARD -i br0 -o br0 -j DROP"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"-A FORWARD -i br0 -o br0 -j DROP"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"-A FORWARD -i br0 -o br0 -j DROP"}},
		}, fixes: []string{
			"ip netns exec M iptables-legacy -D FORWARD -i br0 -o br0 -j DROP",
		}},
		{name: "iptables chain policy drop", break_: func(t *testing.T, tp *topo, _ string) {
			ipt(t, tp.M, "-P", "FORWARD", "DROP")
			ipt(t, tp.M, "-A", "FORWARD", "-p", "tcp", "--dport", "22", "-j", "ACCEPT") // lets no probe through
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{"the policy drop of chain ip filter FORWARD", "-P FORWARD DROP"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"-P FORWARD DROP"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"-P FORWARD DROP"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"-P FORWARD DROP"}},
		}},
		// The DNAT is the kernel's word (conntrack): the path goes on into
		// C, captured and traced like every hop, and C's sightings of the
		// flow, to 10.94.1.5:8080, are the probe's.
		{name: "published port followed into a healthy backend", break_: func(t *testing.T, tp *topo, c string) {
			container(t, tp.B, c)
			publish(t, tp.B)
			listenAt(t, c, 8080)
		}, into: "A M B C", okDetail: []string{"10.96.2.2:7096 is DNAT'd in B to 10.94.1.5:8080", "-j DNAT --to-destination 10.94.1.5:8080", "which answered"}},
		{name: "published port followed into a backend not listening", break_: func(t *testing.T, tp *topo, c string) {
			container(t, tp.B, c)
			publish(t, tp.B)
		}, into: "A M B C", want: []nfWant{
			{"A->B", "tcp", facts.CausePortClosed, "C", []string{"10.96.2.2:7096 is DNAT'd in B to 10.94.1.5:8080 (\"iptables -t nat -A DOCKER ! -i br-1f2e3d4c5b6a -p tcp -m tcp --dport 7096 -j DNAT --to-destination 10.94.1.5:8080\")", "10.94.1.5 answered with a reset: nothing listens on 8080 there"}},
		}, listenFix: true},
		{name: "published port whose backend is gone", break_: func(t *testing.T, tp *topo, c string) {
			container(t, tp.B, c)
			publish(t, tp.B)
			// The container stops: its veth goes (at once; a namespace's
			// removal takes its links later, from the kernel's cleanup).
			inNS(t, tp.B, "ip", "link", "del", "vethc")
		}, into: "A M B", want: []nfWant{
			{"A->B", "tcp", facts.CauseNAT, "B", []string{"10.96.2.2:7096 is DNAT'd in B to 10.94.1.5:8080", "an address no namespace nsdump read holds", "the rule is docker's: docker writes it again"}},
		}},
		// Docker's legacy back end: the nftables trace cannot see the
		// DNAT, conntrack still shows it (netfilter.MayNAT finds the
		// legacy nat table, so the trace asks).
		// The rule is named by its target, the only legacy one that makes
		// the translation.
		{name: "published port by iptables-legacy followed into a backend not listening", break_: func(t *testing.T, tp *topo, c string) {
			container(t, tp.B, c)
			legacyPublish(t, tp.B)
		}, into: "A M B C", want: []nfWant{
			{"A->B", "tcp", facts.CausePortClosed, "C", []string{`10.96.2.2:7096 is DNAT'd in B to 10.94.1.5:8080 (by its target, iptables-legacy rule 1 of chain DOCKER (table nat) in B`, `: "-A DOCKER ! -i br-1f2e3d4c5b6a -p tcp -m tcp --dport 7096 -j DNAT --to-destination 10.94.1.5:8080", reached by PREROUTING -> DOCKER); 10.94.1.5 answered with a reset: nothing listens on 8080 there`}},
		}, listenFix: true},
		{name: "published port by iptables-legacy whose backend is gone", break_: func(t *testing.T, tp *topo, c string) {
			container(t, tp.B, c)
			legacyPublish(t, tp.B)
			inNS(t, tp.B, "ip", "link", "del", "vethc")
		}, into: "A M B", want: []nfWant{
			{"A->B", "tcp", facts.CauseNAT, "B", []string{"10.96.2.2:7096 is DNAT'd in B to 10.94.1.5:8080 (by its target, iptables-legacy rule 1 of chain DOCKER (table nat) in B", "an address no namespace nsdump read holds", "the rule is docker's: docker writes it again"}},
		}, fixes: []string{
			"ip netns exec B iptables-legacy -t nat -D DOCKER '!' -i br-1f2e3d4c5b6a -p tcp -m tcp --dport 7096 -j DNAT --to-destination 10.94.1.5:8080",
		}},
		// The same with a plain nft DNAT: once "address-conflict", since
		// the answer came from elsewhere than the probed address.
		{name: "nft dnat followed into a backend not listening", break_: func(t *testing.T, tp *topo, c string) {
			container(t, tp.B, c)
			nftPublish(t, tp.B, "10.94.1.5:8080")
		}, into: "A M B C", want: []nfWant{
			{"A->B", "tcp", facts.CausePortClosed, "C", []string{"10.96.2.2:7096 is DNAT'd in B to 10.94.1.5:8080 (nftables rule \"tcp dport 7096 dnat to 10.94.1.5:8080\" (ip nat prerouting handle ", "10.94.1.5 answered with a reset: nothing listens on 8080 there"}},
		}, listenFix: true},
		// A DNAT to another address the NAT host holds: no address
		// conflict, and no other namespace to blame.
		{name: "nft dnat to an address the nat host owns", break_: func(t *testing.T, tp *topo, _ string) {
			inNS(t, tp.B, "ip", "addr", "add", "10.97.0.1/32", "dev", "lo")
			nftPublish(t, tp.B, "10.97.0.1:8080")
		}, into: "A M B", ownDNAT: "10.97.0.1:8080", want: []nfWant{
			{"A->B", "tcp", facts.CausePortClosed, "B", []string{"10.96.2.2:7096 is REDIRECT'd in B to 10.97.0.1:8080 (nftables rule \"tcp dport 7096 dnat to 10.97.0.1:8080\" (ip nat prerouting handle ", "10.97.0.1 answered with a reset", "nothing listens on 8080 there"}},
		}, listenFix: true},
		{name: "redirect to a closed port", break_: func(t *testing.T, tp *topo, _ string) {
			ipt(t, tp.B, "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "7096", "-j", "REDIRECT", "--to-ports", "15001")
		}, want: []nfWant{
			{"A->B", "tcp", facts.CausePortClosed, "B", []string{"10.96.2.2:7096 is REDIRECT'd in B to 10.96.2.2:15001", "-j REDIRECT --to-ports 15001", "nothing listens on 15001 there"}},
		}, listenFix: true},
		{name: "snat to an address nobody holds", break_: func(t *testing.T, tp *topo, _ string) {
			ipt(t, tp.M, "-t", "nat", "-A", "POSTROUTING", "-o", "pb", "-s", "10.96.1.2", "-j", "SNAT", "--to-source", "10.96.2.77")
		}, want: []nfWant{
			{"A->B", "icmp-echo", facts.CauseNAT, "M", []string{"the source 10.96.1.2 is SNAT'd in M to 10.96.2.77", "an address M does not hold"}},
			{"A->B", "tcp", facts.CauseNAT, "M", []string{"is SNAT'd in M to 10.96.2.77", "-j SNAT --to-source 10.96.2.77"}},
		}},
		{name: "masquerade healthy", break_: func(t *testing.T, tp *topo, _ string) {
			ipt(t, tp.M, "-t", "nat", "-A", "POSTROUTING", "-o", "pb", "-j", "MASQUERADE")
		}, okDetail: []string{"is SNAT'd in M to 10.96.2.1", "-j MASQUERADE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runNFCase(t, tt) })
	}
}

func runNFCase(t *testing.T, tt nfCase) {
	kind := "router"
	if tt.bridge {
		kind = "bridge"
	}
	prefix := "nj"
	if tt.into != "" {
		prefix = "n3n" // the cases that follow a DNAT
	}
	tp := newTopoPrefix(t, prefix, kind, false, false)
	c := strings.Replace(tp.B, "-b", "-c", 1)
	tt.break_(t, tp, c)
	res := nfTrace(t, tp, time.Second)
	ns := map[string]string{"A": tp.A, "B": tp.B, "M": tp.M, "C": c}
	letters := strings.NewReplacer("A->B", tp.A+"->"+tp.B, "B->A", tp.B+"->"+tp.A,
		" A ", " "+tp.A+" ", " B ", " "+tp.B+" ", " M ", " "+tp.M+" ", " M.", " "+tp.M+".", " M:", " "+tp.M+":")
	checked := map[string]bool{}
	var fixes []string
	for _, w := range tt.want {
		dir := letters.Replace(w.direction)
		checked[dir+" "+string(w.kind)] = true
		p := findFamily(res, dir, w.kind, 4)
		if p == nil {
			t.Fatalf("no %s %s probe", dir, w.kind)
		}
		t.Logf("%s %s: %s in %s: %s; fix %q", dir, w.kind, p.Cause, p.Namespace, p.Detail, p.Fix)
		if p.OK || p.Cause != w.cause || p.Namespace != ns[w.namespace] {
			t.Errorf("%s %s: %s in %s (%s), want %s in %s", dir, w.kind, p.Cause, p.Namespace, p.Detail, w.cause, ns[w.namespace])
		}
		for _, d := range w.detail {
			if want := strings.TrimSpace(letters.Replace(" " + d + " ")); !strings.Contains(p.Detail, want) {
				t.Errorf("%s %s: detail %q lacks %q", dir, w.kind, p.Detail, want)
			}
		}
		if tt.absent != "" && strings.Contains(p.Detail, tt.absent) {
			t.Errorf("%s %s: detail %q says %q", dir, w.kind, p.Detail, tt.absent)
		}
		if strings.Contains(p.Detail, "found to blame") || strings.Contains(p.Detail, "nothing to blame") {
			t.Errorf("%s %s: the kernel dropped it, yet: %s", dir, w.kind, p.Detail)
		}
		switch {
		case p.Fix == "":
			t.Errorf("%s %s: no fix", dir, w.kind)
		case !slices.Contains(fixes, p.Fix):
			fixes = append(fixes, p.Fix)
		}
	}
	for _, p := range res.Probes {
		if !p.OK && !checked[p.Direction+" "+string(p.Kind)] {
			t.Errorf("%s %s: %s in %s (%s), want ok", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
		if p.Direction == tp.A+"->"+tp.B && p.Kind == "tcp" && p.OK {
			for _, d := range tt.okDetail {
				if want := strings.TrimSpace(letters.Replace(" " + d + " ")); !strings.Contains(p.Detail, want) {
					t.Errorf("%s %s: detail %q lacks %q", p.Direction, p.Kind, p.Detail, want)
				}
			}
		}
	}
	followed := strings.HasSuffix(tt.into, " C")
	if want := 3 + btoi(tt.bridge) + btoi(followed); len(res.NFTables) != want { // a bridge family one in a bridge
		t.Errorf("tables made: %q, want %d: one in each namespace on the paths", res.NFTables, want)
	}
	if tt.into != "" {
		checkDNATPath(t, res, tp, c, tt.into, tt.ownDNAT)
	}
	if *update {
		record(t, "nftrace "+tt.name, res)
	}
	if t.Failed() || len(tt.want) == 0 {
		return
	}
	if tt.noRetrace != "" {
		t.Logf("not traced again: %s", tt.noRetrace)
		return
	}
	if tt.listenFix {
		for _, fix := range fixes {
			startListenerFix(t, fix)
		}
		fixes = nil
	}
	if tt.fixes != nil {
		want := make([]string, len(tt.fixes))
		for i, f := range tt.fixes {
			want[i] = strings.TrimSpace(letters.Replace(" " + f + " "))
		}
		if !sameSet(fixes, want) {
			t.Fatalf("fixes %q, want %q", fixes, want)
		}
		fixes = want
	}
	applyFixes(t, fixes)
	again := nfTrace(t, tp, 2*time.Second)
	for _, p := range again.Probes {
		if !p.OK {
			t.Errorf("after %q: %s %s: %s in %s (%s)", fixes, p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
	}
}

// checkDNATPath checks the A->B TCP probe's way past B's DNAT to C's
// 10.94.1.5:8080 (or to ownDNAT, an address of B's own): its path (namespaces by letter, B's hop naming the new
// destination), the JSON's path showing it, and, when it reaches C, C's
// sightings of the flow counted as the probe's (request in, answer out),
// C's interface among the capture points.
func checkDNATPath(t *testing.T, res *Result, tp *topo, c, into, ownDNAT string) {
	t.Helper()
	ns := map[string]string{"A": tp.A, "B": tp.B, "M": tp.M, "C": c}
	var want []string
	for _, l := range strings.Fields(into) {
		want = append(want, ns[l])
	}
	dir := tp.A + "->" + tp.B
	pf := findFacts(res, dir, "tcp", 4)
	if pf == nil {
		t.Fatalf("no %s tcp probe facts", dir)
	}
	t.Logf("tcp path %+v, back %+v; request seen %+v, answer seen %+v", pf.Path, pf.Back, pf.RequestSeen, pf.AnswerSeen)
	to, role := "10.94.1.5:8080", facts.RoleRouter
	if ownDNAT != "" {
		to, role = ownDNAT, facts.RoleDestination
	}
	var got []string
	for _, h := range pf.Path {
		got = append(got, h.Namespace)
		if h.Namespace == tp.B && (h.DNATTo.String() != to || h.Role != role) {
			t.Errorf("B's hop %+v: want a %s with dnat_to %s", h, role, to)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("tcp path %q, want %q", got, want)
	}
	if !slices.Equal(res.Path[dir], pf.Path) {
		t.Errorf("path shown %+v, want the tcp probe's %+v", res.Path[dir], pf.Path)
	}
	if echo := findFacts(res, dir, "icmp-echo", 4); echo == nil || len(echo.Path) != 3 || echo.Path[2].Role != facts.RoleDestination {
		t.Errorf("the echo, which no DNAT takes, goes %+v; want A M B, B its destination", echo)
	}
	if want[len(want)-1] != c {
		return
	}
	if last := pf.Path[len(pf.Path)-1]; last.Role != facts.RoleDestination || last.In != "eth0" {
		t.Errorf("C's hop %+v: want the destination, in by eth0", last)
	}
	if !slices.Contains(pf.RequestSeen, facts.Sight{Namespace: c, Iface: "eth0", Dir: facts.DirIn}) ||
		!slices.Contains(pf.AnswerSeen, facts.Sight{Namespace: c, Iface: "eth0", Dir: facts.DirOut}) {
		t.Errorf("C's sightings not the probe's: request %+v, answer %+v", pf.RequestSeen, pf.AnswerSeen)
	}
	p := findFamily(res, dir, "tcp", 4)
	if !slices.ContainsFunc(p.Seen, func(s decode.Sighting) bool { return s.Point == c+"/eth0" && s.Frame > 0 }) {
		t.Errorf("the probe's seen lacks C/eth0: %+v", p.Seen)
	}
	if !slices.ContainsFunc(res.Points, func(pt capture.Point) bool { return pt.Name == c+"/eth0" }) {
		t.Errorf("C/eth0 not captured: %+v", res.Points)
	}
}

// findFacts is a probe's facts.
func findFacts(res *Result, direction string, kind facts.ProbeKind, family int) *facts.ProbeFacts {
	for i, p := range res.Facts.Probes {
		if p.Direction == direction && p.Kind == kind && p.Family == family {
			return &res.Facts.Probes[i]
		}
	}
	return nil
}

// startListenerFix starts a printed fix that listens until stopped
// ("ip netns exec NS nc -l PORT"), as a user would in another terminal,
// word by word as the shell reads it, and waits until NS listens on PORT;
// it is stopped by its PID when the test ends.
func startListenerFix(t *testing.T, fix string) {
	t.Helper()
	cmds, err := shellwords.Parse(fix)
	if err != nil || len(cmds) != 1 || len(cmds[0]) < 7 || !slices.Equal(cmds[0][:3], []string{"ip", "netns", "exec"}) || cmds[0][4] != "nc" {
		t.Fatalf("fix %q is no listener in a namespace (%v)", fix, err)
	}
	words := cmds[0]
	ns, port := words[3], words[len(words)-1]
	t.Logf("starting %s", fix)
	cmd := exec.Command(words[0], words[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("the printed fix %q: %v", fix, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !eventually(func() bool {
		out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn", "sport", "=", ":"+port).Output()
		return strings.Contains(string(out), "LISTEN")
	}) {
		t.Fatalf("%q never listened on %s in %s", fix, port, ns)
	}
}

// sameSet says whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nfTrace traces A and B by the addresses of their links to M.
func nfTrace(t *testing.T, tp *topo, timeout time.Duration) *Result {
	t.Helper()
	res, err := Run(context.Background(), Config{From: tp.A, To: tp.B, Timeout: timeout,
		FromAddr: netip.MustParseAddr(tp.addrA), ToAddr: netip.MustParseAddr(tp.addrB)})
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	return res
}

// TestNFTraceOff: with --no-nftrace no table is made and nsdump's own
// evaluation judges; a drop it cannot explain says which evidence was
// missing.
func TestNFTraceOff(t *testing.T) {
	tp := newTopoPrefix(t, "nj", "router", false, false)
	dockerChains(t, "iptables-nft", tp.M)
	res, err := Run(context.Background(), Config{From: tp.A, To: tp.B, Timeout: time.Second, NoNFTrace: true,
		FromAddr: netip.MustParseAddr(tp.addrA), ToAddr: netip.MustParseAddr(tp.addrB)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NFTables) != 0 || len(res.Facts.NFTraced) != 0 || len(res.Facts.NFTrace) != 0 {
		t.Errorf("tracing off, yet tables %q, traced %q, decisions %d", res.NFTables, res.Facts.NFTraced, len(res.Facts.NFTrace))
	}
	for _, p := range res.Probes {
		if p.OK || p.Namespace != tp.M {
			t.Errorf("%s %s: ok=%v %s in %s, want a failure in M", p.Direction, p.Kind, p.OK, p.Cause, p.Namespace)
		}
		if p.Kind != facts.KindMTU && !strings.Contains(p.Detail, "nftables trace unavailable: turned off (--no-nftrace)") {
			t.Errorf("%s %s: %q does not say the kernel's trace was off", p.Direction, p.Kind, p.Detail)
		}
	}
}
