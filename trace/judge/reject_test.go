package judge

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// TestJudgeRejected judges recorded-style facts: who answered a probe, and
// which rule of which namespace made the answer.
func TestJudgeRejected(t *testing.T) {
	a4, b4 := netip.MustParseAddr("10.0.1.1"), netip.MustParseAddr("10.0.2.2")
	a6, b6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:2::2")
	path := []facts.Hop{{Namespace: "A", Out: "veth0", Role: facts.RoleSource}, {Namespace: "B", In: "veth1", Role: facts.RoleDestination}}
	tcp := facts.Packet{Family: 4, Proto: "tcp", Src: a4, Dst: b4, SPort: 40000, DPort: 7096}
	echo6 := facts.Packet{Family: 6, Proto: "ipv6-icmp", Src: a6, Dst: b6, ICMPType: "echo-request"}
	input := func(ns, family string, handle int, verdict facts.RuleVerdict, conds ...facts.Cond) []facts.Rule {
		return []facts.Rule{
			{Namespace: ns, Family: family, Table: "t", Chain: "in", Hook: "input", Policy: true, Verdict: facts.RuleAccept},
			{Namespace: ns, Family: family, Table: "t", Chain: "in", Hook: "input", Handle: handle, Verdict: verdict, Conds: conds},
		}
	}
	rst := []facts.Sight{{Namespace: "B", Iface: "veth1", Dir: facts.DirOut}}
	prohibited := []facts.ICMPSeen{{From: b6, Type: 1, Code: 1, Text: "unreachable: administratively prohibited", Seen: rst}}
	tests := []struct {
		name    string
		rules   []facts.Rule
		probe   facts.ProbeFacts
		socket  string
		ok      bool
		ns, fix string
		detail  []string
	}{
		{name: "tcp reset rule in B", rules: input("B", "inet", 7, facts.RuleReject, facts.Cond{Key: "tcp dport", Op: "==", Values: []string{"7096"}}),
			probe: facts.ProbeFacts{Path: path, Request: tcp, Refused: true, AnswerSeen: rst},
			ok:    true, ns: "B", fix: "ip netns exec B nft delete rule inet t in handle 7",
			detail: []string{"inet t in handle 7, hook input", "a reset came back, seen at B/veth1 Out"}},
		{name: "a stack's own reset: no rule, port-closed stands",
			rules: input("B", "inet", 7, facts.RuleReject, facts.Cond{Key: "tcp dport", Op: "==", Values: []string{"22"}}),
			probe: facts.ProbeFacts{Path: path, Request: tcp, Refused: true, AnswerSeen: rst}},
		{name: "a drop comes first", rules: input("B", "ip", 3, facts.RuleDrop),
			probe: facts.ProbeFacts{Path: path, Request: tcp, Refused: true, AnswerSeen: rst}},
		{name: "nothing answered", rules: input("B", "inet", 7, facts.RuleReject), probe: facts.ProbeFacts{Path: path, Request: tcp}},
		{name: "ip6 admin-prohibited", rules: input("B", "ip6", 4, facts.RuleReject, facts.Cond{Key: "ip6 saddr", Op: "==", Values: []string{"fd00::/64"}}),
			probe: facts.ProbeFacts{Family: 6, Path: path, Request: echo6, Errors: append(prohibited, prohibited...)},
			ok:    true, ns: "B", fix: "ip netns exec B nft delete rule ip6 t in handle 4",
			detail: []string{"sent ICMPv6 unreachable: administratively prohibited (2), seen at B/veth1 Out"}},
		{name: "an ip rule does not see IPv6", rules: input("B", "ip", 4, facts.RuleReject),
			probe: facts.ProbeFacts{Family: 6, Path: path, Request: echo6, Errors: prohibited}},
		{name: "the sender's own output chain: only its socket heard",
			rules: []facts.Rule{{Namespace: "A", Family: "inet", Table: "t", Chain: "out", Hook: "output", Handle: 2, Verdict: facts.RuleReject}},
			probe: facts.ProbeFacts{Path: path, Request: tcp}, socket: "connection refused",
			ok: true, ns: "A", fix: "ip netns exec A nft delete rule inet t out handle 2",
			detail: []string{"the sender's socket was told connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &facts.Facts{Rules: tt.rules, Namespaces: []*nsstate.NamespaceState{}}
			v, ok := judgeRejected(f, tt.probe, tt.socket)
			if ok != tt.ok {
				t.Fatalf("ok=%v, want %v: %+v", ok, tt.ok, v)
			}
			if !ok {
				return
			}
			if v.Cause != facts.CauseRejected || v.Namespace != tt.ns || v.Fix != tt.fix {
				t.Errorf("%s in %s, fix %q; want rejected in %s, fix %q", v.Cause, v.Namespace, v.Fix, tt.ns, tt.fix)
			}
			for _, d := range tt.detail {
				if !strings.Contains(v.Detail, d) {
					t.Errorf("detail %q lacks %q", v.Detail, d)
				}
			}
		})
	}
}
