package facts

import (
	"fmt"
	"slices"
	"strconv"
)

// Rule is one nftables rule, or a chain's policy (Handle 0, Policy set),
// as a judgement matches it against a probe's packet.
type Rule struct {
	Namespace string      `json:"namespace"`
	Family    string      `json:"family"` // ip, ip6, inet, bridge, netdev, arp
	Table     string      `json:"table"`
	Chain     string      `json:"chain"`
	Hook      string      `json:"hook,omitempty"` // of a base chain
	Device    string      `json:"device,omitempty"`
	Handle    int         `json:"handle,omitempty"`
	Policy    bool        `json:"policy,omitempty"`
	Verdict   RuleVerdict `json:"verdict"`
	With      string      `json:"with,omitempty"` // a reject's answer: "tcp reset", "icmp type admin-prohibited"
	Text      string      `json:"text"`
	Conds     []Cond      `json:"conds,omitempty"`
	// Path is the chain of jumps from the base chain to Chain, for an
	// iptables-legacy rule in a user chain.
	Path []string `json:"path,omitempty"`
	// WrittenBy is the tool that writes an iptables-legacy rule again
	// ("docker"), as NFDecision.WrittenBy is a traced rule's.
	WrittenBy string `json:"written_by,omitempty"`
}

// RuleVerdict is what a rule or chain policy does with a packet it
// matches, as far as nsdump reads it: written "accept", "drop", "reject",
// or "" for none (the packet goes on: a counter, a jump nsdump does not
// follow).
type RuleVerdict uint8

const (
	RuleGoesOn RuleVerdict = iota
	RuleAccept
	RuleDrop
	RuleReject
)

var ruleVerdictNames = [...]string{RuleGoesOn: "", RuleAccept: "accept", RuleDrop: "drop", RuleReject: "reject"}

func (v RuleVerdict) String() string {
	if int(v) < len(ruleVerdictNames) {
		return ruleVerdictNames[v]
	}
	return strconv.Itoa(int(v))
}

// MarshalText writes the verdict as nft does ("drop").
func (v RuleVerdict) MarshalText() ([]byte, error) {
	if int(v) >= len(ruleVerdictNames) {
		return nil, fmt.Errorf("rule verdict %d", int(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText reads what MarshalText writes.
func (v *RuleVerdict) UnmarshalText(b []byte) error {
	i := slices.Index(ruleVerdictNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("rule verdict %q: not accept, drop, reject or empty", clip(string(b)))
	}
	*v = RuleVerdict(i)
	return nil
}

// Stops reports whether the verdict ends the packet: drop or reject.
func (v RuleVerdict) Stops() bool { return v == RuleDrop || v == RuleReject }

// Cond is one match of a rule: KEY OP VALUES, as nft writes it
// ("ip daddr == 10.0.2.2", "tcp dport in {22, 7096}").
type Cond struct {
	Key    string   `json:"key"`
	Op     string   `json:"op"`
	Values []string `json:"values"`
}

// Spend counts n comparisons of rules and values, and reports whether
// the facts' budget still allows them.
func (f *Facts) Spend(n int) bool {
	f.work += n
	return f.budget == 0 || f.work <= f.budget
}

// OverBudget reports whether judging has compared more than the budget.
func (f *Facts) OverBudget() bool { return f.budget != 0 && f.work > f.budget }

// SetBudget bounds the work of judging f to n comparisons (0: no bound).
func (f *Facts) SetBudget(n int) { f.budget = n }

// Budget is the bound SetBudget set.
func (f *Facts) Budget() int { return f.budget }

// Work is how many comparisons judging f has made so far.
func (f *Facts) Work() int { return f.work }
