package trace

import (
	"errors"
	"os/exec"
	"strings"
	"sync"

	"github.com/nsdump/nsdump/netfilter"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/judge"
)

// gatherAllRules reads the nftables rules of every namespace (at once)
// and the iptables-legacy rules of the ends, with what it could not read.
func gatherAllRules(ts *topology.Targets, names, ends []string) ([]facts.Rule, []facts.Gap) {
	type got struct {
		rules []facts.Rule
		gaps  []facts.Gap
	}
	all := make([]got, len(names)+len(ends))
	var wg sync.WaitGroup
	for i, ns := range names {
		wg.Add(1)
		go func() { defer wg.Done(); all[i].rules, all[i].gaps = gatherRules(ts, ns) }()
	}
	for i, ns := range ends {
		wg.Add(1)
		go func() { defer wg.Done(); all[len(names)+i].rules, all[len(names)+i].gaps = gatherLegacy(ts, ns) }()
	}
	wg.Wait()
	var rules []facts.Rule
	var gaps []facts.Gap
	for _, g := range all {
		rules, gaps = append(rules, g.rules...), append(gaps, g.gaps...)
	}
	return rules, gaps
}

// gatherRules reads the nftables ruleset of ns (every family); what keeps
// it from reading them (nft missing, refused, unreadable output) is a gap.
func gatherRules(ts *topology.Targets, ns string) ([]facts.Rule, []facts.Gap) {
	js, err := outputIn(ts, ns, "nft", "-j", "list", "ruleset")
	if err != nil {
		return nil, []facts.Gap{{What: facts.GapNftables, Namespace: ns, Error: runError(err)}}
	}
	rules, err := judge.ParseRuleset(ns, js)
	if err != nil {
		return rules, []facts.Gap{{What: facts.GapNftables, Namespace: ns, Error: err.Error()}}
	}
	return rules, nil
}

// gatherLegacy reads the iptables-legacy rules of ns, both families. A
// host without the legacy tools has no legacy rules (nothing could have
// added them): no gap; any other failure is one.
func gatherLegacy(ts *topology.Targets, ns string) ([]facts.Rule, []facts.Gap) {
	var out []facts.Rule
	var gaps []facts.Gap
	for _, c := range []struct{ tool, family string }{{"iptables-legacy-save", "ip"}, {"ip6tables-legacy-save", "ip6"}} {
		if _, err := exec.LookPath(c.tool); err != nil {
			continue
		}
		text, err := outputIn(ts, ns, c.tool)
		if err != nil {
			gaps = append(gaps, facts.Gap{What: facts.GapLegacy, Namespace: ns, Error: c.tool + ": " + runError(err)})
			continue
		}
		for _, r := range judge.ParseIptablesSave(ns, c.family, string(text)) {
			r.WrittenBy = writtenBy(netfilter.Rule{Table: r.Table, Chain: r.Chain, ChainPath: r.Path, Text: r.Text})
			out = append(out, r)
		}
	}
	return out, gaps
}

// writtenBy is the tool that writes r again, if one does: never for
// DOCKER-USER, Docker's place for the user's own rules, which it leaves be.
func writtenBy(r netfilter.Rule) string {
	if r.Chain == "DOCKER-USER" {
		return ""
	}
	return r.WrittenBy()
}

// runError is a failed program's error with the first line it wrote on
// stderr: "exit status 127: nsenter: failed to execute nft: No such file
// or directory".
func runError(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if line, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n"); line != "" {
			return err.Error() + ": " + line
		}
	}
	return err.Error()
}

// outputIn runs prog inside namespace ns through the descriptor of the
// namespace held for the trace (topology.OutputIn), not by its name.
func outputIn(ts *topology.Targets, ns, prog string, args ...string) ([]byte, error) {
	h, err := ts.OpenNamespace(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return topology.OutputIn(h, prog, args...)
}
