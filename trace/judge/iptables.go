package judge

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
)

// iptables rules are matched as Rules too: a legacy one (iptables-legacy,
// x_tables, invisible to nft) carries its iptables-save line as Text,
// "-A CHAIN ..." or "-P CHAIN POLICY"; an iptables-nft one is an nft rule
// of an iptables table and chain, told apart by those names.

var iptablesHooks = map[string]string{"PREROUTING": "prerouting", "INPUT": "input", "FORWARD": "forward", "OUTPUT": "output", "POSTROUTING": "postrouting"}

// ParseIptablesSave reads iptables-save (or ip6tables-save) output of
// ns: each table's built-in chains with the user chains they jump to
// followed (iptables_chains.go).
func ParseIptablesSave(ns, family, text string) []facts.Rule {
	var out []facts.Rule
	var t *xtable
	flush := func() {
		if t != nil {
			out = append(out, t.flatten(ns, family)...)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case strings.HasPrefix(f[0], "*"):
			flush()
			t = &xtable{name: f[0][1:], chains: map[string][]xrule{}, policies: map[string]string{}}
		case t == nil:
		case strings.HasPrefix(f[0], ":") && len(f) >= 2:
			chain := f[0][1:]
			t.order = append(t.order, chain)
			t.policies[chain] = f[1]
		case f[0] == "-A" && len(f) >= 2:
			t.chains[f[1]] = append(t.chains[f[1]], xrule{pos: len(t.chains[f[1]]) + 1, text: strings.TrimSpace(line), args: f[2:]})
		}
	}
	flush()
	return out
}

// iptablesMatch turns an iptables rule's arguments into nft-style
// conditions and its target into a verdict.
func iptablesMatch(family string, args []string) ([]facts.Cond, facts.RuleVerdict) {
	keys := map[string]string{"-s": family + " saddr", "-d": family + " daddr", "-p": "meta l4proto",
		"--dport": "th dport", "--sport": "th sport", "-i": "meta iifname", "-o": "meta oifname", "--icmp-type": "icmp type", "--icmpv6-type": "icmpv6 type"}
	var conds []facts.Cond
	verdict := facts.RuleGoesOn
	not := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "!" {
			not = true
			continue
		}
		if i+1 >= len(args) {
			break
		}
		v := args[i+1]
		switch {
		case a == "-j" || a == "-g":
			switch v {
			case "DROP":
				verdict = facts.RuleDrop
			case "REJECT":
				verdict = facts.RuleReject
			case "ACCEPT":
				verdict = facts.RuleAccept
			}
			i++
		case keys[a] != "":
			op := "=="
			if not {
				op = "!="
			}
			conds = append(conds, facts.Cond{Key: keys[a], Op: op, Values: []string{strings.ReplaceAll(v, ":", "-")}})
			i++
		case a == "-m" || a == "--reject-with":
			i++
		}
		not = false
	}
	return conds, verdict
}

// ruleLegacy reports whether the rule is an iptables-legacy one.
func ruleLegacy(r facts.Rule) bool {
	return strings.HasPrefix(r.Text, "-A ") || strings.HasPrefix(r.Text, "-P ")
}

// ruleIptablesNFT reports whether an nft rule is one iptables-nft made: an
// iptables table's built-in chain, upper case.
func ruleIptablesNFT(r facts.Rule) bool {
	_, builtin := iptablesHooks[r.Chain]
	return !ruleLegacy(r) && builtin && (r.Family == "ip" || r.Family == "ip6") &&
		strings.Contains(" filter raw mangle nat security ", " "+r.Table+" ")
}

// ruleIptablesCommand is the iptables tool that manages the rule.
func ruleIptablesCommand(r facts.Rule) []string {
	tool := "iptables"
	if r.Family == "ip6" {
		tool = "ip6tables"
	}
	if ruleLegacy(r) {
		tool += "-legacy"
	}
	if r.Table != "filter" {
		return []string{tool, "-t", r.Table}
	}
	return []string{tool}
}

// position is the rule's number in its chain, as iptables -D counts.
func position(rules []facts.Rule, r facts.Rule) int {
	n := 0
	for _, o := range rules {
		if o.Namespace == r.Namespace && o.Family == r.Family && o.Table == r.Table && o.Chain == r.Chain && !o.Policy && !ruleLegacy(o) {
			n++
			if o.Handle == r.Handle {
				return n
			}
		}
	}
	return 0
}

// nameRule is the rule as a verdict's detail names it, and the command
// that takes it away, whichever tool made it.
func nameRule(rules []facts.Rule, r facts.Rule) (detail, fix string) {
	// run is the iptables command, none for names iptables would not take.
	run := func(args ...string) string {
		if cmdline.IptablesTable(r.Table) != nil || cmdline.IptablesChain(r.Chain) != nil {
			return ""
		}
		return cmdline.InNamespace(r.Namespace, append(ruleIptablesCommand(r), args...)...).String()
	}
	switch {
	case ruleLegacy(r) && r.Policy:
		return fmt.Sprintf("the policy DROP of iptables-legacy chain %s (table %s) in %s", r.Chain, r.Table, r.Namespace),
			run("-P", r.Chain, "ACCEPT")
	case ruleLegacy(r):
		detail := fmt.Sprintf("iptables-legacy rule %d of chain %s (table %s) in %s: %q", r.Handle, r.Chain, r.Table, r.Namespace, r.Text)
		if len(r.Path) > 1 {
			detail += ", reached by " + strings.Join(r.Path, " -> ")
		}
		// By its spec, as iptables-nft's are (undo): a number goes stale
		// when another rule of the chain is deleted first.
		if spec := legacySpec(r); spec != nil {
			return detail, run(append([]string{"-D", r.Chain}, spec...)...)
		}
		return detail, run("-D", r.Chain, strconv.Itoa(r.Handle))
	case ruleIptablesNFT(r) && r.Policy:
		return ruleDescribe(r) + ", an iptables chain", run("-P", r.Chain, "ACCEPT")
	case ruleIptablesNFT(r):
		if n := position(rules, r); n > 0 {
			return fmt.Sprintf("%s, iptables rule %d of chain %s (table %s)", ruleDescribe(r), n, r.Chain, r.Table),
				run("-D", r.Chain, strconv.Itoa(n))
		}
	}
	return ruleDescribe(r), ruleFix(r).String()
}

// judgeDropRule finds the rule that drops the probe in ns: its request
// where it passes ns, else its answer.
func judgeDropRule(f *facts.Facts, p facts.ProbeFacts, ns string) (Verdict, bool) {
	for _, c := range []struct {
		path  []facts.Hop
		pkt   facts.Packet
		isNew bool
	}{{p.Path, p.Request, true}, {p.Back, p.Answer, false}} {
		for _, h := range c.path {
			if h.Namespace != ns {
				continue
			}
			rs := culprits(f, ns, h.Role, c.pkt, at{in: h.In, out: h.Out, isNew: c.isNew})
			if len(rs) == 0 {
				continue
			}
			detail, fix := nameRule(f.Rules, rs[0])
			cause := facts.CauseDropped
			if rs[0].Verdict == facts.RuleReject {
				cause = facts.CauseRejected
			}
			return Verdict{Cause: cause, Namespace: ns, Detail: detail + rewrites(rs[0].WrittenBy), Fix: fix}, true
		}
	}
	return Verdict{}, false
}

// legacySpec is a legacy rule's words after `-A CHAIN`, read as
// iptables-restore reads iptables-save's line: a double-quoted word (a
// comment) may hold blanks, \" and \\. nil when the line does not read
// so; the fix then deletes by number.
func legacySpec(r facts.Rule) []string {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(r.Text); i++ {
		c := r.Text[i]
		switch {
		case quoted && c == '\\' && i+1 < len(r.Text) && (r.Text[i+1] == '"' || r.Text[i+1] == '\\'):
			i++
			w.WriteByte(r.Text[i])
		case c == '"':
			quoted, inWord = !quoted, true
		case !quoted && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, w.String())
				w.Reset()
			}
			inWord = false
		case !quoted && (c == '\'' || c == '\\'):
			return nil
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	if quoted || len(words) < 3 || words[0] != "-A" || words[1] != r.Chain {
		return nil
	}
	return words[2:]
}
