package judge

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/shellwords"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// nfFacts is A - M - B, A's echo to B failed in M; the kernel's word is
// what each case adds.
func nfFacts(kind facts.ProbeKind) (*facts.Facts, facts.ProbeFacts) {
	a, b := netip.MustParseAddr("10.96.1.2"), netip.MustParseAddr("10.96.2.2")
	proto := "icmp"
	if kind == "tcp" {
		proto = "tcp"
	}
	p := facts.ProbeFacts{Direction: "A->B", Kind: kind, Family: 4, From: "A", To: "B",
		Path:        []facts.Hop{{Namespace: "A", Out: "a0", Role: facts.RoleSource}, {Namespace: "M", In: "pa", Out: "pb", Role: facts.RoleRouter}, {Namespace: "B", In: "b0", Role: facts.RoleDestination}},
		Request:     facts.Packet{Family: 4, Proto: proto, Src: a, Dst: b, DPort: 7096},
		RequestSeen: []facts.Sight{{Namespace: "A", Iface: "a0", Dir: facts.DirOut}, {Namespace: "M", Iface: "pa", Dir: facts.DirIn}},
		Socket:      facts.SocketFacts{Count: 3, Sent: 3}}
	state := func(ns string, addrs ...string) *nsstate.NamespaceState {
		l := nsstate.LinkState{Name: "eth0", Up: true, Carrier: true}
		for _, s := range addrs {
			l.Addresses = append(l.Addresses, netip.MustParsePrefix(s))
		}
		return &nsstate.NamespaceState{Name: ns, Links: []nsstate.LinkState{l}}
	}
	f := &facts.Facts{Namespaces: []*nsstate.NamespaceState{state("A", "10.96.1.2/24"), state("M", "10.96.1.1/24", "10.96.2.1/24"), state("B", "10.96.2.2/24")},
		After: []*nsstate.NamespaceState{state("C", "10.94.1.5/24")}, NFTraced: []string{"A", "M", "B"}, Probes: []facts.ProbeFacts{p}}
	return f, p
}

func TestJudgeKernelDecision(t *testing.T) {
	a, b := netip.MustParseAddr("10.96.1.2"), netip.MustParseAddr("10.96.2.2")
	tests := []struct {
		name   string
		d      facts.NFDecision
		fix    []string // the words the printed fix runs; nil: none
		detail []string
		cause  facts.Cause
		blamed string
	}{
		{name: "iptables-nft rule in a user chain",
			d: facts.NFDecision{Namespace: "M", Src: a, Dst: b, Proto: 1, Family: "ip", Table: "filter", Base: "FORWARD", Chain: "DOCKER-ISOLATION-STAGE-2",
				Verdict: "drop", Path: []string{"FORWARD", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2"}, Xtables: true,
				Rule: "iptables -t filter -A DOCKER-ISOLATION-STAGE-2 -o br-1f2e -j DROP", Spec: []string{"-o", "br-1f2e", "-j", "DROP"}, WrittenBy: "docker"},
			fix:    []string{"ip", "netns", "exec", "M", "iptables", "-t", "filter", "-D", "DOCKER-ISOLATION-STAGE-2", "-o", "br-1f2e", "-j", "DROP"},
			detail: []string{`by "iptables -t filter -A DOCKER-ISOLATION-STAGE-2 -o br-1f2e -j DROP", reached by FORWARD -> DOCKER-ISOLATION-STAGE-1 -> DOCKER-ISOLATION-STAGE-2`, "docker writes it again"},
			cause:  facts.CauseDropped, blamed: "M"},
		{name: "hostile spec words stay words",
			d: facts.NFDecision{Namespace: "M", Src: a, Dst: b, Proto: 1, Family: "ip", Table: "filter", Base: "FORWARD", Chain: "FORWARD", Verdict: "drop",
				Path: []string{"FORWARD"}, Xtables: true, Rule: "x", Spec: []string{"-s", "1.2.3.4; rm -rf /", "$(reboot)", "-j", "DROP"}},
			fix:   []string{"ip", "netns", "exec", "M", "iptables", "-t", "filter", "-D", "FORWARD", "-s", "1.2.3.4; rm -rf /", "$(reboot)", "-j", "DROP"},
			cause: facts.CauseDropped, blamed: "M"},
		{name: "a table nft cannot be told gets no fix",
			d: facts.NFDecision{Namespace: "M", Src: a, Dst: b, Proto: 1, Family: "inet", Table: "t; reboot", Base: "fw", Chain: "fw", Handle: 4, Verdict: "drop",
				Path: []string{"fw"}, Rule: "drop"},
			cause: facts.CauseDropped, blamed: "M", detail: []string{`nftables rule "drop" (inet t; reboot fw handle 4)`}},
		{name: "nft policy",
			d: facts.NFDecision{Namespace: "M", Src: a, Dst: b, Proto: 1, Family: "inet", Table: "f", Base: "fw", Chain: "fw", Verdict: "drop", Policy: true,
				Path: []string{"fw"}, Rule: "policy drop"},
			fix:   []string{"ip", "netns", "exec", "M", "nft", "chain inet f fw { policy accept; }"},
			cause: facts.CauseDropped, blamed: "M", detail: []string{"the request was dropped in M by the policy drop of chain inet f fw"}},
		{name: "a reject",
			d: facts.NFDecision{Namespace: "B", Src: a, Dst: b, Proto: 1, Family: "inet", Table: "f", Base: "input", Chain: "input", Handle: 2, Verdict: "drop",
				Path: []string{"input"}, Rule: "reject with icmp admin-prohibited"},
			fix:   []string{"ip", "netns", "exec", "B", "nft", "delete", "rule", "inet", "f", "input", "handle", "2"},
			cause: facts.CauseRejected, blamed: "B", detail: []string{"the request was rejected in B"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := nfFacts("icmp-echo")
			f.NFTrace = []facts.NFDecision{tt.d}
			v := Judge(f, p)
			if v.OK || v.Cause != tt.cause || v.Namespace != tt.blamed {
				t.Errorf("%s in %s (%s), want %s in %s", v.Cause, v.Namespace, v.Detail, tt.cause, tt.blamed)
			}
			for _, d := range tt.detail {
				if !strings.Contains(v.Detail, d) {
					t.Errorf("detail %q lacks %q", v.Detail, d)
				}
			}
			if tt.fix == nil {
				if v.Fix != "" {
					t.Errorf("fix %q, want none", v.Fix)
				}
				return
			}
			cmds, err := shellwords.Check(v.Fix)
			if err != nil || len(cmds) != 1 || !reflect.DeepEqual(cmds[0], tt.fix) {
				t.Errorf("fix %q reads as %q (%v), want %q", v.Fix, cmds, err, tt.fix)
			}
		})
	}
}

func TestJudgeTranslations(t *testing.T) {
	a, b := netip.MustParseAddr("10.96.1.2"), netip.MustParseAddr("10.96.2.2")
	dnat := func(to string) facts.ConntrackEntry {
		return facts.ConntrackEntry{Namespace: "B", Original: facts.Tuple{Src: a, Dst: b, Proto: 6, SPort: 40000, DPort: 7096},
			Reply: facts.Tuple{Src: netip.MustParseAddr(to), Dst: a, Proto: 6, SPort: 8080, DPort: 40000}, Destroyed: true}
	}
	t.Run("a reset from behind a DNAT is the backend's", func(t *testing.T) {
		f, p := nfFacts("tcp")
		p.Refused, p.Socket.ConnErr = true, facts.SocketError{Errno: "ECONNREFUSED", Text: "connection refused"}
		f.Conntrack = []facts.ConntrackEntry{dnat("10.94.1.5")}
		v := Judge(f, p)
		want := "10.96.2.2:7096 is DNAT'd in B to 10.94.1.5:8080; 10.94.1.5 answered with a reset: nothing listens on 8080 there"
		if v.Cause != facts.CausePortClosed || v.Namespace != "C" || !strings.Contains(v.Detail, want) {
			t.Errorf("%s in %s (%s), want port-closed in C with %q", v.Cause, v.Namespace, v.Detail, want)
		}
	})
	t.Run("a DNAT to an address nobody holds", func(t *testing.T) {
		f, p := nfFacts("tcp")
		f.Conntrack = []facts.ConntrackEntry{dnat("10.94.1.99")}
		if v := Judge(f, p); v.Cause != facts.CauseNAT || v.Namespace != "B" || !strings.Contains(v.Detail, "no namespace nsdump read holds") {
			t.Errorf("%s in %s (%s), want nat in B", v.Cause, v.Namespace, v.Detail)
		}
	})
	t.Run("an SNAT to an address the router does not hold", func(t *testing.T) {
		f, p := nfFacts("icmp-echo")
		f.Conntrack = []facts.ConntrackEntry{{Namespace: "M", Original: facts.Tuple{Src: a, Dst: b, Proto: 1}, Reply: facts.Tuple{Src: b, Dst: netip.MustParseAddr("10.96.2.77"), Proto: 1}}}
		if v := Judge(f, p); v.Cause != facts.CauseNAT || v.Namespace != "M" || !strings.Contains(v.Detail, "the source 10.96.1.2 is SNAT'd in M to 10.96.2.77, an address M does not hold") {
			t.Errorf("%s in %s (%s), want nat in M", v.Cause, v.Namespace, v.Detail)
		}
	})
	t.Run("a gap is said", func(t *testing.T) {
		f, p := nfFacts("icmp-echo")
		f.NFTraced = nil
		f.Gaps = []facts.Gap{{What: "nftables trace", Namespace: "M", Error: "no nf_tables"}}
		if v := Judge(f, p); !v.OK && !strings.Contains(v.Detail, "nftables trace unavailable in M: no nf_tables") {
			t.Errorf("%s in %s: %q names no missing evidence", v.Cause, v.Namespace, v.Detail)
		}
	})
}

// A translation made by an iptables-legacy rule, which the nftables trace
// cannot see: the rule is named (and undone) when it is the only legacy
// nat rule of that namespace whose target makes the translation.
func TestJudgeLegacyNATRule(t *testing.T) {
	a, b := netip.MustParseAddr("10.96.1.2"), netip.MustParseAddr("10.96.2.2")
	dnat := func(to string) facts.ConntrackEntry {
		return facts.ConntrackEntry{Namespace: "B", Original: facts.Tuple{Src: a, Dst: b, Proto: 6, SPort: 40000, DPort: 7096},
			Reply: facts.Tuple{Src: netip.MustParseAddr(to), Dst: a, Proto: 6, SPort: 8080, DPort: 40000}, Destroyed: true}
	}
	save := func(rules ...string) string {
		return "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n" +
			strings.Join(rules, "\n") + "\nCOMMIT\n"
	}
	const other = "-A DOCKER ! -i br-1 -p tcp -m tcp --dport 7000 -j DNAT --to-destination 10.94.1.6:8080"
	const published = "-A DOCKER ! -i br-1 -p tcp -m tcp --dport 7096 -j DNAT --to-destination 10.94.1.5:8080"
	tests := []struct {
		name   string
		ns     string
		save   string
		entry  facts.ConntrackEntry
		kind   facts.ProbeKind
		cause  facts.Cause
		blamed string
		detail string   // "" : no rule named
		fix    []string // the words the printed fix runs; nil: none
	}{
		{name: "the only DNAT to the backend", ns: "B", save: save(other, published), entry: dnat("10.94.1.5"), kind: "tcp",
			cause: facts.CausePortClosed, blamed: "C",
			detail: `10.96.2.2:7096 is DNAT'd in B to 10.94.1.5:8080 (by its target, iptables-legacy rule 2 of chain DOCKER (table nat) in B: "` + published + `", reached by PREROUTING -> DOCKER); 10.94.1.5 answered with a reset`,
			fix:    []string{"ip", "netns", "exec", "C", "nc", "-l", "8080"}},
		{name: "two DNATs to the backend name neither", ns: "B", entry: dnat("10.94.1.5"), kind: "tcp",
			save:  save(published, "-A DOCKER -p tcp -m tcp --dport 7097 -j DNAT --to-destination 10.94.1.5:8080"),
			cause: facts.CausePortClosed, blamed: "C", fix: []string{"ip", "netns", "exec", "C", "nc", "-l", "8080"}},
		{name: "a DNAT to an address nobody holds is deleted by its spec", ns: "B", entry: dnat("10.94.1.99"), kind: "tcp",
			save:  save("-A DOCKER ! -i br-1 -p tcp -m tcp --dport 7096 -j DNAT --to-destination 10.94.1.99:8080"),
			cause: facts.CauseNAT, blamed: "B",
			detail: "(by its target, iptables-legacy rule 1 of chain DOCKER (table nat) in B",
			fix:    []string{"ip", "netns", "exec", "B", "iptables-legacy", "-t", "nat", "-D", "DOCKER", "!", "-i", "br-1", "-p", "tcp", "-m", "tcp", "--dport", "7096", "-j", "DNAT", "--to-destination", "10.94.1.99:8080"}},
		{name: "an SNAT to an address the router does not hold", ns: "M", kind: "icmp-echo",
			save:  save("-A POSTROUTING -s 10.96.1.2/32 -o pb -j SNAT --to-source 10.96.2.77"),
			entry: facts.ConntrackEntry{Namespace: "M", Original: facts.Tuple{Src: a, Dst: b, Proto: 1}, Reply: facts.Tuple{Src: b, Dst: netip.MustParseAddr("10.96.2.77"), Proto: 1}},
			cause: facts.CauseNAT, blamed: "M", detail: `(by its target, iptables-legacy rule 1 of chain POSTROUTING (table nat) in M: "-A POSTROUTING -s 10.96.1.2/32 -o pb -j SNAT --to-source 10.96.2.77")`,
			fix: []string{"ip", "netns", "exec", "M", "iptables-legacy", "-t", "nat", "-D", "POSTROUTING", "-s", "10.96.1.2/32", "-o", "pb", "-j", "SNAT", "--to-source", "10.96.2.77"}},
		{name: "a DNAT elsewhere names no rule of this one", ns: "M", save: save(published), entry: dnat("10.94.1.5"), kind: "tcp",
			cause: facts.CausePortClosed, blamed: "C", fix: []string{"ip", "netns", "exec", "C", "nc", "-l", "8080"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := nfFacts(tt.kind)
			if tt.cause == facts.CausePortClosed {
				p.Refused, p.Socket.ConnErr = true, facts.SocketError{Errno: "ECONNREFUSED", Text: "connection refused"}
			}
			f.Conntrack = []facts.ConntrackEntry{tt.entry}
			f.Rules = ParseIptablesSave(tt.ns, "ip", tt.save)
			v := Judge(f, p)
			if v.OK || v.Cause != tt.cause || v.Namespace != tt.blamed {
				t.Fatalf("%s in %s (%s), want %s in %s", v.Cause, v.Namespace, v.Detail, tt.cause, tt.blamed)
			}
			if tt.detail == "" && strings.Contains(v.Detail, "iptables-legacy") || !strings.Contains(v.Detail, tt.detail) {
				t.Errorf("detail %q, want it to say %q", v.Detail, tt.detail)
			}
			cmds, err := shellwords.Check(v.Fix)
			if err != nil || len(cmds) != 1 || !reflect.DeepEqual(cmds[0], tt.fix) {
				t.Errorf("fix %q reads as %q (%v), want %q", v.Fix, cmds, err, tt.fix)
			}
		})
	}
}
