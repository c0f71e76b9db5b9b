package trace

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
)

// unreachable is the ground truth of a break, asked of the kernel without
// nsdump: ping from ns to addr gets no answer.
func unreachable(t *testing.T, ns, addr string) {
	t.Helper()
	c := cmdline.InNamespace(ns, "ping", "-c", "1", "-W", "1", addr)
	if err := exec.Command(c[0], c[1:]...).Run(); err == nil {
		t.Fatalf("%s: answered; the break did not break", strings.Join(c, " "))
	}
}

// macOf is the MAC of iface in ns, read with ip.
func macOf(t *testing.T, ns, iface string) string {
	t.Helper()
	c := cmdline.IP(ns, "-br", "link", "show", "dev", iface)
	out, err := exec.Command(c[0], c[1:]...).Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) < 3 {
		t.Fatalf("%s: %v %q", c, err, out)
	}
	return f[2]
}

// bothWays wants a verdict of the probes of kinds, A->B and B->A alike:
// the cause, where it lies and words of its detail.
func bothWays(kinds ...facts.ProbeKind) func(facts.Cause, string, ...string) []pathWant {
	return func(cause facts.Cause, ns string, detail ...string) []pathWant {
		var w []pathWant
		for _, dir := range []string{"A->B", "B->A"} {
			for _, kind := range kinds {
				w = append(w, pathWant{dir, kind, cause, ns, detail})
			}
		}
		return w
	}
}

// TestKernelStateMatrix: faults the kernel decides outside routes and
// firewalls (issue 19), each named where it lies, its fix applied as
// printed, all ok after.
func TestKernelStateMatrix(t *testing.T) {
	all := bothWays("icmp-echo", "tcp")
	tests := []pathCase{
		{name: "kstate router interface forwarding off", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv4.conf.pa.forwarding=0")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseDropped, "M", "forwarding is off on pa in M (net.ipv4.conf.pa.forwarding=0)")},
		{name: "kstate echo ignored in B", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.B, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
			unreachable(t, tp.A, tp.addrB)
		}, want: []pathWant{{"A->B", "icmp-echo", facts.CauseDropped, "B", []string{"net.ipv4.icmp_echo_ignore_all=1 in B"}}}},
		{name: "kstate bridge device down", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "ip", "link", "set", "br0", "down")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseLinkDown, "M", "bridge br0 in M is down")},
		{name: "kstate bridge port listening", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "bridge", "link", "set", "dev", "pb", "state", "1")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseDropped, "M", "port pb of bridge br0 in M is in STP state listening")},
		{name: "kstate bridge ports isolated", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "bridge", "link", "set", "dev", "pa", "isolated", "on")
			tp.in(t, tp.M, "bridge", "link", "set", "dev", "pb", "isolated", "on")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseDropped, "M", "ports pa and pb of bridge br0 in M are both isolated")},
		{name: "kstate static fdb entry to the wrong port", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "bridge", "link", "set", "dev", "pb", "learning", "off")
			tp.in(t, tp.M, "bridge", "fdb", "replace", macOf(t, tp.B, "b0"), "dev", "pa", "master", "static")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseDropped, "M", "static FDB entry sending", "out of port pa, not pb, and learning is off on pb")},
		{name: "kstate wrong permanent neighbour in A", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			sh(t, "ip", "-n", tp.A, "neigh", "replace", tp.addrB, "lladdr", "02:00:5e:00:53:99", "dev", "a0", "nud", "permanent")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseNeighbor, "A", "A's PERMANENT neighbour entry for 10.95.0.2 on a0 holds 02:00:5e:00:53:99, but 10.95.0.2 is B's b0")},
		{name: "kstate policy rule to a kill-switch table", kind: "router", break_: func(t *testing.T, tp *topo) {
			sh(t, "ip", "-n", tp.A, "route", "add", "unreachable", "default", "table", "100")
			sh(t, "ip", "-n", tp.A, "rule", "add", "to", "10.96.2.0/24", "lookup", "100", "priority", "100")
			unreachable(t, tp.A, tp.addrB)
		}, otherPath: true, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseNoRoute, "A", []string{`ip rule "100:\tfrom all to 10.96.2.0/24 lookup 100" sends it to table 100`}},
			{"A->B", "tcp", facts.CauseNoRoute, "A", []string{"table 100"}},
			{"B->A", "icmp-echo", facts.CauseNoReturnRoute, "A", []string{"table 100"}},
			{"B->A", "tcp", facts.CauseNoReturnRoute, "A", []string{"table 100"}},
		}},
		{name: "kstate dadfailed IPv6 address in A", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			// M's bridge holds the address first: A's duplicate address
			// detection meets it and fails.
			tp.in(t, tp.M, "ip", "addr", "add", "fd95::1/64", "dev", "br0", "nodad")
			sh(t, "ip", "-n", tp.B, "addr", "add", "fd95::2/64", "dev", "b0", "nodad")
			sh(t, "ip", "-n", tp.A, "addr", "add", "fd95::1/64", "dev", "a0")
			if !eventually(func() bool {
				out, _ := exec.Command("ip", "-n", tp.A, "-6", "addr", "show", "dev", "a0", "dadfailed").Output()
				return strings.Contains(string(out), "fd95::1")
			}) {
				t.Fatal("fd95::1 in A never became dadfailed")
			}
			c := cmdline.InNamespace(tp.A, "ping", "-6", "-c", "1", "-W", "1", "-I", "fd95::1", "fd95::2")
			if exec.Command(c[0], c[1:]...).Run() == nil {
				t.Fatal("ping from the dadfailed address answered")
			}
		}, want: []pathWant{
			{"A->B", "icmp6-echo", facts.CauseConflict, "M", []string{"fd95::1 on a0 in A is dadfailed", "M holds it on br0"}},
			{"A->B", "tcp6", facts.CauseConflict, "M", []string{"fd95::1 on a0 in A is dadfailed"}},
			{"B->A", "icmp6-echo", facts.CauseConflict, "M", []string{"fd95::1 on a0 in A is dadfailed"}},
			{"B->A", "tcp6", facts.CauseConflict, "M", []string{"fd95::1 on a0 in A is dadfailed"}},
			{"B->A", "mtu6", facts.CauseConflict, "M", []string{"fd95::1 on a0 in A is dadfailed"}},
		}},
		{name: "kstate gateway nobody owns", kind: "router", break_: func(t *testing.T, tp *topo) {
			sh(t, "ip", "-n", tp.A, "route", "replace", "default", "via", "10.96.1.99")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseNeighbor, "A", "10.96.1.99")},
		{name: "kstate rp_filter in a multi-homed B", kind: "router", otherPath: true, break_: func(t *testing.T, tp *topo) {
			// B's second leg to M; its default route leaves by it, so what
			// comes in by b0 fails B's strict reverse-path check.
			sh(t, "ip", "-n", tp.B, "link", "add", "b1", "type", "veth", "peer", "name", "pc", "netns", tp.M)
			sh(t, "ip", "-n", tp.B, "addr", "add", "10.96.3.2/24", "dev", "b1")
			tp.in(t, tp.M, "ip", "addr", "add", "10.96.3.1/24", "dev", "pc")
			sh(t, "ip", "-n", tp.B, "link", "set", "b1", "up")
			tp.in(t, tp.M, "ip", "link", "set", "pc", "up")
			sh(t, "ip", "-n", tp.B, "route", "replace", "default", "via", "10.96.3.1", "dev", "b1")
			tp.in(t, tp.B, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseDropped, "B", "rp_filter")},
		{name: "kstate rp_filter in a router with an asymmetric route", kind: "router", otherPath: true, break_: func(t *testing.T, tp *topo) {
			// M's route back to A leaves by px, a link of M's own: what A
			// sends in by pa fails M's strict reverse-path check.
			tp.in(t, tp.M, "ip", "link", "add", "px", "type", "veth", "peer", "name", "py")
			tp.in(t, tp.M, "ip", "link", "set", "px", "up")
			tp.in(t, tp.M, "ip", "link", "set", "py", "up")
			tp.in(t, tp.M, "ip", "route", "add", tp.addrA+"/32", "dev", "px")
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1")
			unreachable(t, tp.A, tp.addrB)
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{"reverse-path filtering (rp_filter) in M refuses 10.96.2.2 from 10.96.1.2 on pa"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"rp_filter"}},
			{"B->A", "icmp-echo", facts.CauseWrongRoute, "M", []string{"M's route to 10.96.1.2 leaves by px, but 10.96.1.2 is A's, behind pa"}},
			{"B->A", "tcp", facts.CauseWrongRoute, "M", []string{"leaves by px"}},
		}},
		{name: "kstate source rule sends answers out of the wrong uplink", kind: "router", otherPath: true, break_: func(t *testing.T, tp *topo) {
			// U is M's second uplink, forwarding nothing; a rule in M sends
			// what comes from B's address to table 200, out toward U.
			u := tp.M + "u"
			t.Cleanup(func() { exec.Command("ip", "netns", "del", u).Run() })
			sh(t, "ip", "netns", "add", u)
			tp.in(t, tp.M, "ip", "link", "add", "pu", "type", "veth", "peer", "name", "u0", "netns", u)
			tp.in(t, tp.M, "ip", "addr", "add", "10.96.9.1/24", "dev", "pu")
			sh(t, "ip", "-n", u, "addr", "add", "10.96.9.2/24", "dev", "u0")
			tp.in(t, tp.M, "ip", "link", "set", "pu", "up")
			sh(t, "ip", "-n", u, "link", "set", "u0", "up")
			tp.in(t, tp.M, "ip", "route", "add", "default", "via", "10.96.9.2", "dev", "pu", "table", "200")
			tp.in(t, tp.M, "ip", "rule", "add", "from", tp.addrB, "lookup", "200", "priority", "100")
			unreachable(t, tp.A, tp.addrB)
			c := cmdline.IP(tp.M, "route", "get", tp.addrA, "from", tp.addrB, "iif", "pb")
			if out, err := exec.Command(c[0], c[1:]...).Output(); err != nil || !strings.Contains(string(out), "dev pu") {
				t.Fatalf("%s: %v %q, want it out of pu", c, err, out)
			}
		}, want: all(facts.CauseWrongRoute, "M", `ip rule "100:\tfrom 10.96.2.2 lookup 200" in M sends`, "to table 200, whose route leaves by pu", "enters M by pa")},
		{name: "kstate br_netfilter FORWARD drop on a bridge", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			c := cmdline.InNamespace(tp.M, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables")
			if out, err := exec.Command(c[0], c[1:]...).Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
				labtest.Unavailable(t, "br_netfilter is not loaded with bridge-nf-call-iptables=1 here (%v %q)", err, out)
			}
			tp.in(t, tp.M, "iptables", "-A", "FORWARD", "-d", tp.addrB, "-j", "DROP")
			unreachable(t, tp.A, tp.addrB)
		}, want: all(facts.CauseDropped, "M", "net.bridge.bridge-nf-call-iptables=1 in M", "so frames bridged by br0 pass its IP hooks", "ip filter FORWARD")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runPathCase(t, "kj", tt) })
	}
}

// TestLoopbackOnlyListener: a listener bound to 127.0.0.1 refuses what
// comes to B's address; the verdict says something listens, and where.
func TestLoopbackOnlyListener(t *testing.T) {
	tp := newTopoPrefix(t, "kj", "router", false, false)
	h, err := topology.OpenNamespace(tp.B)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var ln net.Listener
	if err := topology.Do(h, func() error {
		var err error
		ln, err = net.Listen("tcp4", "127.0.0.1:7096")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := cmdline.InNamespace(tp.A, "bash", "-c", "exec 3<>/dev/tcp/"+tp.addrB+"/7096")
	if exec.Command(c[0], c[1:]...).Run() == nil {
		t.Fatal("a connection to B's address on 7096 succeeded: the listener is not bound to loopback only")
	}
	res, err := Run(context.Background(), Config{From: tp.A, To: tp.B, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p := findFamily(res, tp.A+"->"+tp.B, "tcp", 4)
	if p == nil {
		t.Fatal("no tcp probe A->B")
	}
	if p.Cause != facts.CausePortClosed || p.Namespace != tp.B || !strings.Contains(p.Detail, "something listens on 127.0.0.1:7096 only") {
		t.Errorf("A->B tcp: %s in %s (%s), want port-closed in B naming 127.0.0.1:7096", p.Cause, p.Namespace, p.Detail)
	}
	if *update {
		record(t, "kstate listener on loopback only", res)
	}
}

// TestRoutingLoop: A - R1 - R2 - B, and a stale host route in R2 that
// sends B's address back to R1: the packets go round R1 and R2 until
// their TTL (hop limit) runs out. The verdict is a loop blamed on R2's
// route, the request's packets seen again in the cycle with a lower TTL
// named; its fix, applied, makes the retrace all ok. In IPv4 and IPv6.
func TestRoutingLoop(t *testing.T) {
	for _, tt := range []struct {
		name, record string
		fam          int
	}{{"IPv4", "kstate routing loop", 4}, {"IPv6", "kstate routing loop IPv6", 6}} {
		t.Run(tt.name, func(t *testing.T) { routingLoop(t, tt.fam, tt.record) })
	}
}

// loopAddr is the address of side (1 or 2) of link i of the loop's chain.
func loopAddr(fam, i, side int) string {
	if fam == 6 {
		return fmt.Sprintf("fd97:%d::%d", i, side)
	}
	return fmt.Sprintf("10.97.%d.%d", i, side)
}

func routingLoop(t *testing.T, fam int, name string) {
	labtest.RequireRoot(t)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, topoSeq.Add(1)&0xff)
	var n []string
	t.Cleanup(func() {
		for _, ns := range n {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	for i := range 4 {
		ns := fmt.Sprintf("nsdkj-l%s-%d", tag, i)
		sh(t, "ip", "netns", "add", ns)
		n = append(n, ns)
		inNS(t, ns, "ip", "link", "set", "lo", "up")
	}
	plen, flag, fwd, dst := "/24", "-4", "net.ipv4.ip_forward=1", loopAddr(fam, 2, 2)
	if fam == 6 {
		plen, flag, fwd = "/64", "-6", "net.ipv6.conf.all.forwarding=1"
	}
	subnet := func(i int) string { return fmt.Sprintf("10.97.%d.0/24", i) }
	if fam == 6 {
		subnet = func(i int) string { return fmt.Sprintf("fd97:%d::/64", i) }
	}
	for i := range 3 {
		vethBetween(t, n[i], "tb", n[i+1], "ta")
		args := func(side int) []string {
			a := []string{"ip", "addr", "add", loopAddr(fam, i, side) + plen, "dev", []string{"", "tb", "ta"}[side]}
			if fam == 6 {
				a = append(a, "nodad")
			}
			return a
		}
		inNS(t, n[i], args(1)...)
		inNS(t, n[i+1], args(2)...)
	}
	inNS(t, n[0], "ip", flag, "route", "add", "default", "via", loopAddr(fam, 0, 2))
	inNS(t, n[3], "ip", flag, "route", "add", "default", "via", loopAddr(fam, 2, 1))
	inNS(t, n[1], "sysctl", "-qw", fwd)
	inNS(t, n[2], "sysctl", "-qw", fwd)
	inNS(t, n[1], "ip", flag, "route", "add", subnet(2), "via", loopAddr(fam, 1, 2))
	inNS(t, n[2], "ip", flag, "route", "add", subnet(0), "via", loopAddr(fam, 1, 1))
	host := "/32"
	if fam == 6 {
		host = "/128"
	}
	inNS(t, n[2], "ip", flag, "route", "add", dst+host, "via", loopAddr(fam, 1, 1)) // the stale one
	unreachable(t, n[0], dst)
	c := cmdline.IP(n[2], flag, "route", "get", dst, "from", loopAddr(fam, 0, 1), "iif", "ta")
	if out, err := exec.Command(c[0], c[1:]...).Output(); err != nil || !strings.Contains(string(out), "via "+loopAddr(fam, 1, 1)+" dev ta") {
		t.Fatalf("%s: %v %q, want the route back to R1", c, err, out)
	}
	res, err := Run(context.Background(), Config{From: n[0], To: n[3], Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var fixes []string
	for _, p := range res.Probes {
		if p.Kind == facts.KindMTU {
			continue
		}
		t.Logf("%s %s: %s in %s, fix %q: %s", p.Direction, p.Kind, p.Cause, p.Namespace, p.Fix, p.Detail)
		if p.Cause != facts.CauseLoop || p.Namespace != n[2] || !strings.Contains(p.Detail, n[1]+" -> "+n[2]+" -> "+n[1]) ||
			!strings.Contains(p.Detail, n[2]+"'s route to "+dst) || strings.Contains(p.Detail, "the kernel says otherwise") {
			t.Errorf("%s %s: %s in %s (%s), want a loop through %s and %s blamed on %s's route", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail, n[1], n[2], n[2])
		}
		// The request's own packets go round: each is seen again where it
		// was, with a lower TTL, whether or not an ICMP error (rate-limited)
		// is captured.
		if p.Direction == n[0]+"->"+n[3] && !strings.Contains(p.Detail, "the same packet seen again") {
			t.Errorf("%s %s: the detail %q names no packet seen again with a lower TTL", p.Direction, p.Kind, p.Detail)
		}
		if p.Fix == "" {
			t.Errorf("%s %s: no fix", p.Direction, p.Kind)
		} else if !slices.Contains(fixes, p.Fix) {
			fixes = append(fixes, p.Fix)
		}
	}
	if *update {
		record(t, name, res)
	}
	if t.Failed() {
		return
	}
	applyFixes(t, fixes)
	again, err := Run(context.Background(), Config{From: n[0], To: n[3], Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	allOK(t, "after "+strings.Join(fixes, "; "), again)
}

// TestPortUpRetrace: a bridge port down leaves FAILED neighbour entries
// behind; once `ip link set PORT up` makes ping work again, a retrace at
// once is all ok: the verdict is made from what the new probes met, not
// from entries an earlier failure left.
func TestPortUpRetrace(t *testing.T) {
	tp := newTopoPrefix(t, "kj", "bridge", false, false)
	tp.in(t, tp.M, "ip", "link", "set", "pb", "down")
	res := tp.trace(t, time.Second)
	for _, p := range res.Probes {
		if p.Kind != facts.KindMTU && (p.OK || p.Cause != facts.CauseLinkDown) {
			t.Errorf("port down: %s %s: %s in %s (%s), want link-down", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
	}
	failed := func() bool {
		out, _ := exec.Command("ip", "-n", tp.A, "neigh", "show", tp.addrB).Output()
		return strings.Contains(string(out), "FAILED") || strings.Contains(string(out), "INCOMPLETE")
	}
	if !failed() {
		t.Logf("A holds no unresolved entry for %s after the failed trace: the retrace tests less than it should", tp.addrB)
	}
	tp.in(t, tp.M, "ip", "link", "set", "pb", "up")
	ping := cmdline.InNamespace(tp.A, "ping", "-c", "1", "-W", "1", tp.addrB)
	if !eventually(func() bool { return exec.Command(ping[0], ping[1:]...).Run() == nil }) {
		t.Fatal("ping never worked after the port came up")
	}
	again := tp.trace(t, 2*time.Second)
	allOK(t, "retrace after ip link set pb up", again)
}
