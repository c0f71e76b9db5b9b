package trace

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
)

// causeCase is one fault of the causes matrix: break the lab, trace, check
// the verdicts, apply every printed fix as printed, trace again: all ok.
type causeCase struct {
	name   string
	break_ func(t *testing.T, l topology.Lab)
	cfg    Config
	six    bool   // an IPv6-only lab
	want   []want // probes not listed must be ok
	record bool   // -update records its facts under testdata/facts
	prefix string // of the lab's names, when not the matrix's own "cz"
}

// causesLab is a lab of the test's own with routes both ways; IPv6 only
// when six is set.
func causesLab(t *testing.T, six bool) topology.Lab {
	return prefixedLab(t, "cz", six)
}

// prefixedLab is causesLab with names of prefix.
func prefixedLab(t *testing.T, prefix string, six bool) topology.Lab {
	if !six {
		return labtest.New(t, prefix, true)
	}
	l := labtest.Names(t, prefix)
	n := l.Addr0.Addr().As4()[2]
	l.Addr0 = netip.MustParsePrefix(fmt.Sprintf("fd00:%x:c::1/64", n))
	l.Addr1 = netip.MustParsePrefix(fmt.Sprintf("fd00:%x:d::1/64", n))
	if _, err := topology.Setup(l, true); err != nil {
		t.Fatal(err)
	}
	return l
}

func runCauses(t *testing.T, cases []causeCase) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			prefix := tt.prefix
			if prefix == "" {
				prefix = "cz"
			}
			l := prefixedLab(t, prefix, tt.six)
			tt.break_(t, l)
			res := traceLab(t, l, tt.cfg)
			names := labNames(l)
			ns := map[string]string{"A": l.NS0, "B": l.NS1}
			checked := map[string]bool{}
			var fixes []string
			for _, w := range tt.want {
				key := names.Replace(w.direction) + " " + string(w.kind)
				checked[key] = true
				p := find(res, names.Replace(w.direction), w.kind)
				if p == nil {
					t.Fatalf("no %s probe in %+v", key, res.Probes)
				}
				if p.OK || p.Cause != w.cause || p.Namespace != ns[w.namespace] || !fixMatches(p.Fix, names.Replace(w.fix)) ||
					!strings.Contains(p.Detail, names.Replace(w.detail)) {
					t.Errorf("%s: ok=%v cause %q in %q, fix %q, detail %q; want %s in %s, fix %q, detail with %q",
						key, p.OK, p.Cause, p.Namespace, p.Fix, p.Detail, w.cause, ns[w.namespace], names.Replace(w.fix), names.Replace(w.detail))
				}
				if w.cause == facts.CauseRejected && strings.Contains(p.Detail, "nothing answered") {
					t.Errorf("%s: %q, while the capture saw an answer", key, p.Detail)
				}
				if p.Fix != "" && !slices.Contains(fixes, p.Fix) {
					fixes = append(fixes, p.Fix)
				}
			}
			for _, p := range res.Probes {
				if !p.OK {
					t.Logf("%s %s: %s in %s, fix %q: %s", p.Direction, p.Kind, p.Cause, p.Namespace, p.Fix, p.Detail)
				}
				if !checked[p.Direction+" "+string(p.Kind)] && !p.OK {
					t.Errorf("%s %s: %s in %s (%s), want ok", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
				}
			}
			if *update && tt.record {
				record(t, "lab "+tt.name, res)
			}
			if t.Failed() {
				return
			}
			if *update {
				record(t, "lab "+tt.name, res)
			}
			applyFixes(t, fixes)
			allOK(t, fmt.Sprintf("after %q", fixes), traceLab(t, l, tt.cfg))
		})
	}
}

// fixMatches compares a printed fix with the expected one; an expected
// fix ending in "handle " takes any handle (nft numbers them itself).
func fixMatches(got, want string) bool {
	if strings.HasSuffix(want, " handle ") {
		_, err := strconv.Atoi(strings.TrimPrefix(got, want))
		return strings.HasPrefix(got, want) && err == nil
	}
	return got == want
}

func traceLab(t *testing.T, l topology.Lab, cfg Config) *Result {
	t.Helper()
	// The timeout only bounds the failing probes; generous for a loaded machine.
	cfg.From, cfg.To, cfg.Timeout = l.NS0, l.NS1, 2*time.Second
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	return res
}

func labNames(l topology.Lab) *strings.Replacer {
	return strings.NewReplacer("A->B", l.NS0+"->"+l.NS1, "B->A", l.NS1+"->"+l.NS0,
		"ip -n A", "ip -n "+l.NS0, "ip -n B", "ip -n "+l.NS1, "exec A", "exec "+l.NS0, "exec B", "exec "+l.NS1,
		"A/", l.NS0+"/", "in B:", "in "+l.NS1+":", "in B'", "in "+l.NS1+"'", ") in B", ") in "+l.NS1, "B/", l.NS1+"/", "exec B", "exec "+l.NS1, "SUBNET0HOST", l.Addr0.Addr().String(), "SUBNET1HOST", l.Addr1.Addr().String(),
		"SUBNET0", l.Addr0.Masked().String(), "SUBNET1", l.Addr1.Masked().String(), "V0", l.Veth0, "V1", l.Veth1)
}

// shf runs a shell command of the test's setup.
func shf(t *testing.T, format string, args ...any) {
	t.Helper()
	cmd := fmt.Sprintf(format, args...)
	if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// extraNamespace creates a namespace of the test's own, removed when it ends.
func extraNamespace(t *testing.T, l topology.Lab, suffix string) string {
	t.Helper()
	name := "nsdcz-" + suffix + strings.TrimPrefix(l.NS0, "nsdcz-a")
	shf(t, "ip netns add %s && ip -n %s link set lo up", name, name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return name
}

func TestRouteCauses(t *testing.T) {
	labtest.RequireRoot(t)
	all := func(dir string, cause facts.Cause, ns, fix, detail string) []want {
		return []want{{dir, "icmp-echo", cause, ns, fix, detail}, {dir, "tcp", cause, ns, fix, detail}}
	}
	cases := []causeCase{
		{name: "wrong route: another veth, its peer in A itself", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip -n %s link add wr0 type veth peer name wr1 && ip -n %[1]s addr add 10.77.0.1/24 dev wr0 && ip -n %[1]s link set wr0 up && ip -n %[1]s link set wr1 up", l.NS0)
			shf(t, "ip -n %s route replace %s dev wr0", l.NS0, l.Route0())
		}, want: append(all("A->B", facts.CauseWrongRoute, "A", "ip -n A route replace SUBNET1 dev V0", "leaves by wr0, which leads to A/wr1, not by V0, whose peer is in B: ARP for the next hop was seen leaving on wr0"),
			all("B->A", facts.CauseWrongRoute, "A", "ip -n A route replace SUBNET1 dev V0", "route to SUBNET1HOST")...)},
		{name: "wrong route: via a gateway on another veth, into a third namespace", break_: func(t *testing.T, l topology.Lab) {
			x := extraNamespace(t, l, "x")
			shf(t, "ip -n %s link add wr0 type veth peer name wr1 netns %s && ip -n %[1]s addr add 10.77.0.1/24 dev wr0 && ip -n %[1]s link set wr0 up", l.NS0, x)
			shf(t, "ip -n %s addr add 10.77.0.2/24 dev wr1 && ip -n %[1]s link set wr1 up", x)
			shf(t, "ip -n %s route replace %s via 10.77.0.2 dev wr0", l.NS0, l.Route0())
		}, want: append(all("A->B", facts.CauseWrongRoute, "A", "ip -n A route replace SUBNET1 dev V0", "leaves by wr0, which leads to nsdcz-x"),
			all("B->A", facts.CauseWrongRoute, "A", "ip -n A route replace SUBNET1 dev V0", "it was seen leaving on wr0")...)},
		{name: "wrong route into a dummy", record: true, break_: func(t *testing.T, l topology.Lab) {
			t.Logf("the interface that loses packets: %s", sinkInterface(t, l.NS0, "wr0"))
			shf(t, "ip -n %s link set wr0 up && ip -n %[1]s route replace %s dev wr0", l.NS0, l.Route0())
		}, want: append(all("A->B", facts.CauseWrongRoute, "A", "ip -n A route replace SUBNET1 dev V0", "leaves by wr0, which leads to no namespace nsdump knows, not by V0, whose peer is in B:"),
			all("B->A", facts.CauseWrongRoute, "A", "ip -n A route replace SUBNET1 dev V0", "route to SUBNET1HOST")...)},
		{name: "blackhole route to B's subnet", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip -n %s route replace blackhole %s", l.NS0, l.Route0())
		}, want: append(all("A->B", facts.CauseNoRoute, "A", "ip -n A route replace SUBNET1 dev V0", `route to SUBNET1HOST is "blackhole SUBNET1"`),
			all("B->A", facts.CauseNoReturnRoute, "A", "ip -n A route replace SUBNET1 dev V0", `its route there is "blackhole SUBNET1"`)...)},
		{name: "unreachable route to B's subnet", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip -n %s route replace unreachable %s", l.NS0, l.Route0())
		}, want: append(all("A->B", facts.CauseNoRoute, "A", "ip -n A route replace SUBNET1 dev V0", `"unreachable SUBNET1" (RTNETLINK answers: No route to host)`),
			all("B->A", facts.CauseNoReturnRoute, "A", "ip -n A route replace SUBNET1 dev V0", `"unreachable SUBNET1"`)...)},
		{name: "prohibit host route back to A in B", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip -n %s route add prohibit %s", l.NS1, l.Addr0.Addr())
		}, want: append(all("B->A", facts.CauseNoRoute, "B", "ip -n B route del prohibit SUBNET0HOST/32 && ip -n B route replace SUBNET0 dev V1", `"prohibit SUBNET0HOST/32"`),
			all("A->B", facts.CauseNoReturnRoute, "B", "ip -n B route del prohibit SUBNET0HOST/32 && ip -n B route replace SUBNET0 dev V1", `its route there is "prohibit SUBNET0HOST/32"`)...)},
	}
	runCauses(t, cases)
}

func TestRejectCauses(t *testing.T) {
	labtest.RequireRoot(t)
	// table FAMILY czr, chain in on the input hook, and one rule.
	rule := func(ns, family, r string) string {
		return fmt.Sprintf("ip netns exec %s nft 'add table %s czr; add chain %[2]s czr in { type filter hook input priority 0; }; add rule %[2]s czr in %s'", ns, family, r)
	}
	const deleteRule = "ip netns exec B nft delete rule %s czr in handle "
	cases := []causeCase{
		{name: "tcp reset", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "%s", rule(l.NS1, "inet", "tcp dport 7096 reject with tcp reset"))
		}, want: []want{{"A->B", "tcp", facts.CauseRejected, "B", fmt.Sprintf(deleteRule, "inet"), "a reset came back, seen at B/V1 Out"}}},
		{name: "icmp admin-prohibited", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "%s", rule(l.NS1, "ip", "ip saddr "+l.Addr0.Addr().String()+" ct state new reject with icmp type admin-prohibited"))
		}, want: []want{
			{"A->B", "icmp-echo", facts.CauseRejected, "B", fmt.Sprintf(deleteRule, "ip"), "sent ICMP communication prohibited by filter ("},
			{"A->B", "tcp", facts.CauseRejected, "B", fmt.Sprintf(deleteRule, "ip"), "sent ICMP communication prohibited by filter"},
		}},
		{name: "icmp port-unreachable (plain reject)", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "%s", rule(l.NS1, "inet", "ip saddr "+l.Addr0.Addr().String()+" ct state new reject"))
		}, want: []want{
			{"A->B", "icmp-echo", facts.CauseRejected, "B", fmt.Sprintf(deleteRule, "inet"), "port unreachable"},
			{"A->B", "tcp", facts.CauseRejected, "B", fmt.Sprintf(deleteRule, "inet"), "port unreachable"},
		}},
		{name: "ip6 admin-prohibited", six: true, break_: func(t *testing.T, l topology.Lab) {
			shf(t, "%s", rule(l.NS1, "ip6", "ip6 saddr "+l.Addr0.Addr().String()+" ct state new reject with icmpv6 type admin-prohibited"))
		}, want: []want{
			{"A->B", "icmp6-echo", facts.CauseRejected, "B", fmt.Sprintf(deleteRule, "ip6"), "sent ICMPv6 unreachable: administratively prohibited ("},
			{"A->B", "tcp", facts.CauseRejected, "B", fmt.Sprintf(deleteRule, "ip6"), "sent ICMPv6 unreachable: administratively prohibited"},
		}},
		{name: "ip6 tcp reset in the sender's output", six: true, break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip netns exec %s nft 'add table inet czr; add chain inet czr out { type filter hook output priority 0; }; add rule inet czr out ip6 daddr %s tcp dport 7096 reject with tcp reset'", l.NS0, l.Addr1.Addr())
		}, want: []want{{"A->B", "tcp", facts.CauseRejected, "A", "ip netns exec A nft delete rule inet czr out handle ", "reset"}}},
	}
	runCauses(t, cases)
}

func TestMTUCauses(t *testing.T) {
	labtest.RequireRoot(t)
	cases := []causeCase{
		{name: "veth ends at 9000 and 1500", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip -n %s link set %s mtu 9000", l.NS1, l.Veth1)
		}, want: []want{{"B->A", facts.KindMTU, facts.CauseMTU, "B", "ip -n B link set V1 mtu 1500", "B/V1 has 9000, A/V0 has 1500; 0/3 replies to 9000-byte echo requests with DF"}}},
		{name: "ip6: veth ends at 1500 and 9000", six: true, break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip -n %s link set %s mtu 9000", l.NS0, l.Veth0)
		}, want: []want{{"A->B", facts.KindMTU, facts.CauseMTU, "A", "ip -n A link set V0 mtu 1500", "A/V0 has 9000, B/V1 has 1500; 0/"}}},
	}
	runCauses(t, cases)
}

// TestMTUProbeHealthy: a healthy lab has an mtu probe each way, ok, sized
// by the interface's MTU.
func TestMTUProbeHealthy(t *testing.T) {
	l := causesLab(t, false)
	res := traceLab(t, l, Config{})
	n := 0
	for _, p := range res.Probes {
		if p.Kind == facts.KindMTU {
			n++
			if !p.OK || !strings.Contains(p.Detail, "3/3 replies to 1500-byte echo requests with DF") {
				t.Errorf("%s mtu: %s (%s)", p.Direction, p.Cause, p.Detail)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d mtu probes, want one each way: %+v", n, res.Probes)
	}
}

func TestIptablesCauses(t *testing.T) {
	labtest.RequireRoot(t)
	all := func(fix, detail string) []want {
		return []want{
			{"A->B", "icmp-echo", facts.CauseDropped, "B", fix, detail}, {"A->B", "tcp", facts.CauseDropped, "B", fix, detail},
			{"B->A", "icmp-echo", facts.CauseDropped, "B", fix, detail}, {"B->A", "tcp", facts.CauseDropped, "B", fix, detail},
		}
	}
	cases := []causeCase{
		{name: "iptables-legacy drop", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip netns exec %s iptables-legacy -A INPUT -p udp --dport 9 -j DROP", l.NS1) // matches no probe
			shf(t, "ip netns exec %s iptables-legacy -A INPUT -s %s -j DROP", l.NS1, l.Addr0.Addr())
		}, want: all("ip netns exec B iptables-legacy -D INPUT -s SUBNET0HOST/32 -j DROP", "iptables-legacy rule 2 of chain INPUT (table filter)")},
		{name: "iptables-legacy policy drop", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip netns exec %s iptables-legacy -P INPUT DROP", l.NS1)
		}, want: all("ip netns exec B iptables-legacy -P INPUT ACCEPT", "policy DROP of iptables-legacy chain INPUT")},
		{name: "nft chain policy drop", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip netns exec %s nft 'add table inet czp; add chain inet czp in { type filter hook input priority 0; policy drop; }; add rule inet czp in tcp dport 22 accept'", l.NS1)
		}, want: all("ip netns exec B nft 'chain inet czp in { policy accept; }'", "the policy drop of chain inet czp in (hook input) in B")},
		{name: "iptables (nf_tables) drop of the probe's port", break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip netns exec %s iptables -A INPUT -p tcp --dport 22 -j DROP", l.NS1) // matches no probe
			shf(t, "ip netns exec %s iptables -A INPUT -s %s -p tcp --dport 7096 -j DROP", l.NS1, l.Addr0.Addr())
		}, want: []want{{"A->B", "tcp", facts.CauseDropped, "B", "ip netns exec B iptables -t filter -D INPUT -s SUBNET0HOST/32 -p tcp -m tcp --dport 7096 -j DROP",
			// The kernel's nftables trace names the rule as iptables writes it.
			`by "iptables -t filter -A INPUT -s SUBNET0HOST/32 -p tcp -m tcp --dport 7096 -j DROP"`}}},
	}
	runCauses(t, cases)
}

// TestAddressConflict: A, B and C on a bridge in M; C comes to hold B's
// address too, after A and B have talked, and announces it as Linux does
// when an interface's MAC changes with arp_notify set: a gratuitous ARP,
// which overrides A's entry for B's address (a gratuitous ARP overrides
// whatever the entry's age). Nothing else can set it back within the
// trace: B's entry for A was confirmed by B's own ping just before (it
// stays REACHABLE at least 15 s, so B sends A no ARP), and C answers A's
// unicast probes itself. The test waits for A's entry to hold C's MAC
// (the event, polled), not for a time.
func TestAddressConflict(t *testing.T) {
	labtest.RequireRoot(t)
	l := labtest.Names(t, "mx")
	tag := strings.TrimPrefix(l.NS0, "nsdmx-a")
	ns := map[string]string{}
	for _, n := range []string{"a", "b", "c", "m"} {
		ns[n] = "nsdmx-" + n + tag
		shf(t, "ip netns add %s && ip -n %[1]s link set lo up", ns[n])
		name := ns[n]
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	}
	shf(t, "ip -n %s link add br0 type bridge && ip -n %[1]s link set br0 up", ns["m"])
	addr := map[string]string{"a": "10.97.0.1/24", "b": "10.97.0.2/24"}
	for _, n := range []string{"a", "b", "c"} {
		shf(t, "ip -n %s link add %s0 type veth peer name p%[2]s netns %s", ns[n], n, ns["m"])
		shf(t, "ip -n %s link set p%s master br0 up", ns["m"], n)
		if addr[n] != "" {
			shf(t, "ip -n %s addr add %s dev %s0", ns[n], addr[n], n)
		}
		shf(t, "ip -n %s link set %s0 up", ns[n], n)
	}
	// A and B know each other, B's entry for A freshly confirmed.
	shf(t, "ip netns exec %s ping -c1 -W5 10.97.0.2 >/dev/null && ip netns exec %s ping -c1 -W5 10.97.0.1 >/dev/null", ns["a"], ns["b"])
	const cMAC = "02:00:5e:97:00:0c"
	shf(t, "ip netns exec %s sysctl -qw net.ipv4.conf.c0.arp_notify=1 && ip -n %[1]s addr add 10.97.0.2/24 dev c0 && ip -n %[1]s link set c0 address %s", ns["c"], cMAC)
	if !eventually(func() bool {
		out, _ := exec.Command("ip", "-n", ns["a"], "neigh", "show", "10.97.0.2", "dev", "a0").Output()
		return strings.Contains(string(out), cMAC)
	}) {
		t.Fatalf("C's gratuitous ARP never reached A's neighbour table")
	}
	cfg := Config{From: ns["a"], To: ns["b"], Timeout: 2 * time.Second}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var fixes []string
	for _, p := range res.Probes {
		t.Logf("%s %s: ok=%v %s in %s, fix %q: %s", p.Direction, p.Kind, p.OK, p.Cause, p.Namespace, p.Fix, p.Detail)
		if p.Kind == facts.KindMTU {
			continue
		}
		if p.OK || p.Cause != facts.CauseConflict || p.Namespace != ns["c"] || !strings.Contains(p.Detail, cMAC) || !strings.Contains(p.Detail, ns["c"]+"/c0") {
			t.Errorf("%s %s: ok=%v %s in %s: %s; want address-conflict in %s naming %s", p.Direction, p.Kind, p.OK, p.Cause, p.Namespace, p.Detail, ns["c"], cMAC)
		}
		if p.Fix != "" && !slices.Contains(fixes, p.Fix) {
			fixes = append(fixes, p.Fix)
		}
	}
	if res.OK || len(fixes) != 1 {
		t.Fatalf("ok=%v, fixes %q", res.OK, fixes)
	}
	if *update && !t.Failed() {
		record(t, "bridge address conflict", res)
	}
	shf(t, "%s", fixes[0])
	again, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range again.Probes {
		if !p.OK {
			t.Errorf("after %q: %s %s: %s in %s (%s)", fixes[0], p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
	}
}

// TestNeighborCauses: ARP turned off on B's veth in the lab: B answers no
// ARP and sends its frames to its own MAC; every probe is
// neighbor-unreachable in B, fixed by turning ARP on again.
func TestNeighborCauses(t *testing.T) {
	labtest.RequireRoot(t)
	const fix, detail = "ip -n B link set dev V1 arp on", "ARP is off on V1 in "
	runCauses(t, []causeCase{{name: "ARP off on the veth in B", record: true, break_: func(t *testing.T, l topology.Lab) {
		shf(t, "ip -n %s link set dev %s arp off", l.NS1, l.Veth1)
	}, want: []want{
		{"A->B", "icmp-echo", facts.CauseNeighbor, "B", fix, detail}, {"A->B", "tcp", facts.CauseNeighbor, "B", fix, detail},
		{"B->A", "icmp-echo", facts.CauseNeighbor, "B", fix, detail}, {"B->A", "tcp", facts.CauseNeighbor, "B", fix, detail},
	}}})
}
