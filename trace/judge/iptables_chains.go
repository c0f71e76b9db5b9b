package judge

import (
	"slices"

	"github.com/nsdump/nsdump/trace/facts"
)

// iptables-legacy's user chains, followed as the kernel follows them:
// a rule in a built-in chain that jumps (-j) or goes (-g) to a user chain
// stands for that chain's rules, each matching only where the jump's own
// conditions hold too; a RETURN ends the chain (one with a single
// condition lets the rest match only where that condition does not), and
// falling off a user chain goes on after the jump. Docker writes its
// chains so with the legacy back end. The rules come out flat, in the
// order the kernel meets them, each with the chain it is in, its number
// there (what iptables -D takes) and the path of jumps that led to it.

// xtable is one table of iptables-save output.
type xtable struct {
	name     string
	order    []string          // chains as declared
	policies map[string]string // chain -> ACCEPT, DROP, or "-" for a user chain
	chains   map[string][]xrule
}

// xrule is one `-A CHAIN ...` line.
type xrule struct {
	pos  int // in its chain, from 1
	text string
	args []string // after -A CHAIN
}

// maxJumps bounds the depth of jumps followed (the kernel refuses loops;
// a file may not).
const maxJumps = 8

// flatten is the table's rules and dropping policies as Rules of their
// built-in chains' hooks.
func (t *xtable) flatten(ns, family string) []facts.Rule {
	var out []facts.Rule
	for _, chain := range t.order {
		hook, ok := iptablesHooks[chain]
		if !ok {
			continue
		}
		out = t.walk(out, ns, family, hook, []string{chain}, nil)
		if t.policies[chain] == "DROP" {
			out = append(out, facts.Rule{Namespace: ns, Family: family, Table: t.name, Chain: chain, Hook: hook, Policy: true,
				Verdict: facts.RuleDrop, Text: "-P " + chain + " DROP", Path: []string{chain}})
		}
	}
	return out
}

// walk appends the rules of the last chain of path, each also requiring
// conds (the jumps' conditions that led there).
func (t *xtable) walk(out []facts.Rule, ns, family, hook string, path []string, conds []facts.Cond) []facts.Rule {
	chain := path[len(path)-1]
	extra := slices.Clone(conds)
	for _, xr := range t.chains[chain] {
		rc, verdict := iptablesMatch(family, xr.args)
		target := xtarget(xr.args)
		all := append(slices.Clone(extra), rc...)
		switch {
		case target == "RETURN" && len(rc) == 0:
			return out
		case target == "RETURN" && len(rc) == 1:
			extra = append(extra, negate(rc[0]))
			continue
		case target == "RETURN":
			continue // a return on several conditions: the rest is followed as if it did not
		case t.policies[target] == "-" && len(path) < maxJumps && !slices.Contains(path, target):
			out = t.walk(out, ns, family, hook, append(slices.Clone(path), target), all)
			continue
		}
		out = append(out, facts.Rule{Namespace: ns, Family: family, Table: t.name, Chain: chain, Hook: hook, Handle: xr.pos,
			Text: xr.text, Conds: all, Verdict: verdict, Path: slices.Clone(path)})
	}
	return out
}

// xtarget is a rule's -j or -g target, or "".
func xtarget(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-j" || args[i] == "-g" {
			return args[i+1]
		}
	}
	return ""
}

// negate is the condition that holds where c does not.
func negate(c facts.Cond) facts.Cond {
	c.Values = slices.Clone(c.Values)
	if c.Op == "!=" {
		c.Op = "=="
	} else {
		c.Op = "!="
	}
	return c
}
