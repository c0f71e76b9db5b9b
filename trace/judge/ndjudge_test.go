package judge

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/shellwords"
	"github.com/nsdump/nsdump/trace/facts"
)

// TestJudgeNDDropped: a neighbour solicitation or advertisement a rule
// dropped in a namespace an IPv6 probe crosses is what stopped it, named
// as ND (never as the request, though it runs between the same
// addresses), with a fix that accepts ND; a dropped router solicitation
// stops no probe.
func TestJudgeNDDropped(t *testing.T) {
	a, b := netip.MustParseAddr("fd96:1::2"), netip.MustParseAddr("fd96:2::2")
	policy := facts.NFDecision{Namespace: "B", Src: a, Dst: b, Proto: 58, ND: 136, Family: "inet", Table: "f", Base: "input", Chain: "input",
		Verdict: "drop", Policy: true, Path: []string{"input"}, Rule: "policy drop"}
	xt := facts.NFDecision{Namespace: "B", Src: a, Dst: b, Proto: 58, ND: 135, Family: "ip6", Table: "filter", Base: "INPUT", Chain: "INPUT",
		Verdict: "drop", Policy: true, Path: []string{"INPUT"}, Xtables: true, Rule: "-P INPUT DROP"}
	hostile := policy
	hostile.Table = "f; reboot"
	rs := policy
	rs.ND = 133
	ipt := func(typ string) []string {
		return []string{"ip", "netns", "exec", "B", "ip6tables", "-t", "filter", "-I", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", typ, "-j", "ACCEPT"}
	}
	tests := []struct {
		name   string
		d      facts.NFDecision
		nd     bool
		fix    [][]string
		detail []string
	}{
		{name: "nft policy", d: policy, nd: true,
			fix:    [][]string{{"ip", "netns", "exec", "B", "nft", "insert rule inet f input icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept"}},
			detail: []string{"neighbour discovery (NDP) was dropped in B by the policy drop of chain inet f input: the neighbour advertisement fd96:1::2 -> fd96:2::2"}},
		{name: "ip6tables-nft policy", d: xt, nd: true,
			fix:    [][]string{ipt("neighbour-solicitation"), ipt("neighbour-advertisement"), ipt("router-advertisement")},
			detail: []string{"the neighbour solicitation", `the policy drop of chain ip6 filter INPUT ("-P INPUT DROP")`}},
		{name: "a table nft cannot be told gets no fix", d: hostile, nd: true},
		{name: "a router solicitation stops no probe", d: rs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := nfFacts("icmp-echo")
			p.Family, p.Request.Family, p.Request.Proto, p.Request.Src, p.Request.Dst = 6, 6, "ipv6-icmp", a, b
			f.Probes = []facts.ProbeFacts{p}
			f.NFTrace = []facts.NFDecision{tt.d}
			v := Judge(f, p)
			if strings.Contains(v.Detail, "the request was dropped") {
				t.Errorf("an ND packet taken for the request: %s", v.Detail)
			}
			if !tt.nd {
				if strings.Contains(v.Detail, "neighbour discovery (NDP) was dropped") {
					t.Errorf("blamed on a router solicitation: %s", v.Detail)
				}
				return
			}
			if v.OK || v.Cause != facts.CauseDropped || v.Namespace != "B" {
				t.Errorf("%s in %s (%s), want dropped in B", v.Cause, v.Namespace, v.Detail)
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
			if err != nil || !reflect.DeepEqual(cmds, tt.fix) {
				t.Errorf("fix %q reads as %q (%v), want %q", v.Fix, cmds, err, tt.fix)
			}
		})
	}
}
