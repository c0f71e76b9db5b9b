package judge

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
)

// nft 1.0.6's `nft -j list ruleset` of a bridge table, a set, a prefix
// and a policy-drop chain.
const rulesetJSON = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
{"table": {"family": "bridge", "name": "pat", "handle": 2}},
{"chain": {"family": "bridge", "table": "pat", "name": "fw", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
{"rule": {"family": "bridge", "table": "pat", "chain": "fw", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.93.0.9"}}, {"drop": null}]}},
{"rule": {"family": "bridge", "table": "pat", "chain": "fw", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.93.0.2"}}, {"counter": {"packets": 9, "bytes": 456}}, {"drop": null}]}},
{"table": {"family": "inet", "name": "f", "handle": 3}},
{"chain": {"family": "inet", "table": "f", "name": "forward", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
{"rule": {"family": "inet", "table": "f", "chain": "forward", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [22, 80]}}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "f", "chain": "forward", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.1.0.0", "len": 16}}}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "icmp"}}, {"reject": {"type": "icmp", "expr": "admin-prohibited"}}]}}
]}`

func TestRuleset(t *testing.T) {
	rules, err := ParseRuleset("M", []byte(rulesetJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 6 {
		t.Fatalf("%d rules and policies: %+v", len(rules), rules)
	}
	texts := map[string]string{}
	for _, r := range rules {
		if !r.Policy {
			texts[fmt.Sprint(r.Family, r.Handle)] = r.Text
		}
		if r.Hook != "forward" {
			t.Errorf("%+v: hook %q, want the chain's forward", r, r.Hook)
		}
	}
	for h, want := range map[string]string{"bridge2": "ip daddr 10.93.0.9 drop", "bridge3": "ip daddr 10.93.0.2 drop",
		"inet2": "tcp dport { 22, 80 } accept", "inet4": "ip saddr 10.1.0.0/16 meta l4proto icmp reject with icmp type admin-prohibited"} {
		if texts[h] != want {
			t.Errorf("%s: %q, want %q", h, texts[h], want)
		}
	}
	echo := facts.Packet{Family: 4, Proto: "icmp", Src: netip.MustParseAddr("10.1.2.3"), Dst: netip.MustParseAddr("10.93.0.2"), ICMPType: "echo-request"}
	tcp := facts.Packet{Family: 4, Proto: "tcp", Src: netip.MustParseAddr("10.9.0.1"), Dst: netip.MustParseAddr("10.93.0.2"), DPort: 80}
	other := facts.Packet{Family: 4, Proto: "tcp", Src: netip.MustParseAddr("10.9.0.1"), Dst: netip.MustParseAddr("10.93.0.5"), DPort: 7096}
	tests := []struct {
		name    string
		role    facts.Role
		p       facts.Packet
		handles []int // 0: the chain policy
	}{
		{"bridge: only the rule for its address", facts.RoleBridge, echo, []int{3}},
		{"bridge: a packet no rule matches", facts.RoleBridge, other, nil},
		{"router: reject by prefix and protocol", facts.RoleRouter, echo, []int{4}},
		{"router: accepted by the port set", facts.RoleRouter, tcp, nil},
		{"router: the policy", facts.RoleRouter, other, []int{0}},
		{"destination: no forward hook", facts.RoleDestination, echo, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, r := range culprits((&facts.Facts{Rules: rules}), "M", tt.role, tt.p, at{isNew: true}) {
				got = append(got, r.Handle)
			}
			if len(got) != len(tt.handles) || (len(got) > 0 && got[0] != tt.handles[0]) {
				t.Errorf("culprits %v, want %v", got, tt.handles)
			}
		})
	}
}

// TestRuleVerdictJSON: a rule's verdict is written and read as nft names
// it, so recorded facts keep their "verdict": "drop".
func TestRuleVerdictJSON(t *testing.T) {
	for _, tt := range []struct {
		v    facts.RuleVerdict
		text string
	}{{facts.RuleGoesOn, ""}, {facts.RuleAccept, "accept"}, {facts.RuleDrop, "drop"}, {facts.RuleReject, "reject"}} {
		b, err := json.Marshal(facts.Rule{Verdict: tt.v})
		if err != nil || !strings.Contains(string(b), `"verdict":"`+tt.text+`"`) {
			t.Errorf("%v: %s, %v", tt.v, b, err)
		}
		var back facts.Rule
		if err := json.Unmarshal(b, &back); err != nil || back.Verdict != tt.v {
			t.Errorf("%s read back as %v, %v", b, back.Verdict, err)
		}
	}
	var r facts.Rule
	if err := json.Unmarshal([]byte(`{"verdict": "jump"}`), &r); err == nil {
		t.Errorf(`"jump" read as %v`, r.Verdict)
	}
}
