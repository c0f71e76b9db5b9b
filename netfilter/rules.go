package netfilter

import (
	"fmt"
	"strconv"
	"strings"
)

// Rule is a rule (or a chain's policy) that decided a packet's fate, as the
// user wrote it.
type Rule struct {
	Family Family `json:"family"`
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	Handle uint64 `json:"handle,omitempty"` // 0 for a policy
	// Position is the rule's place in its chain, from 1, in the kernel's
	// order (iptables' rule number); 0 for a policy.
	Position int `json:"position,omitempty"`
	// Text is the rule as its tool lists it: for nft, the line of
	// `nft -a list` without its handle comment ("policy drop" for a policy);
	// for iptables-nft, the iptables-save spec ("-A CHAIN ...", "-P CHAIN DROP").
	Text string `json:"text"`
	// Xtables: the rule belongs to iptables-nft (its table and chain are
	// iptables' and iptables-nft-save lists it).
	Xtables bool `json:"xtables,omitempty"`
	Policy  bool `json:"policy,omitempty"`
	// ChainPath is the chain of jumps from the base chain to Chain.
	ChainPath []string `json:"chain_path"`
}

// Command is the rule as a command line a user recognises: `iptables -t
// filter -A ...` for iptables-nft rules, the nft rule with its place
// otherwise.
func (r Rule) Command() string {
	if r.Xtables {
		tool := "iptables"
		if r.Family == FamilyIP6 {
			tool = "ip6tables"
		}
		return fmt.Sprintf("%s -t %s %s", tool, r.Table, r.Text)
	}
	if r.Policy {
		return fmt.Sprintf("chain %s %s %s: %s", r.Family, r.Table, r.Chain, r.Text)
	}
	return fmt.Sprintf("rule %s %s %s handle %d: %s", r.Family, r.Table, r.Chain, r.Handle, r.Text)
}

// nftChain is what `nft -a list chain` says of one chain.
type nftChain struct {
	policy string            // "accept", "drop"; "" for a regular chain
	rules  map[uint64]string // handle -> text
}

// parseNftChain reads the output of `nft -a list chain FAMILY TABLE CHAIN`:
// the rule lines end in "# handle N"; the base chain's header line says its
// policy.
func parseNftChain(out, chain string) (nftChain, error) {
	c := nftChain{rules: map[uint64]string{}}
	in := false
	for _, line := range strings.Split(out, "\n") {
		s := strings.TrimSpace(line)
		if strings.HasPrefix(s, "chain "+chain+" {") {
			in = true
			continue
		}
		if !in {
			continue
		}
		if s == "}" {
			break
		}
		if i := strings.Index(s, "policy "); strings.HasPrefix(s, "type ") && i >= 0 {
			c.policy = strings.TrimSuffix(strings.TrimSpace(s[i+len("policy "):]), ";")
			continue
		}
		i := strings.LastIndex(s, " # handle ")
		if i < 0 {
			continue
		}
		h, err := strconv.ParseUint(strings.TrimSpace(s[i+len(" # handle "):]), 10, 64)
		if err != nil {
			return c, fmt.Errorf("nft listing of chain %s: %q: %w", chain, s, err)
		}
		c.rules[h] = s[:i]
	}
	if !in {
		return c, fmt.Errorf("nft listing has no chain %s", chain)
	}
	return c, nil
}

// saveChain is what iptables-nft-save says of one chain.
type saveChain struct {
	found  bool
	policy string   // "DROP", "ACCEPT"; "-" for a user chain
	rules  []string // "-A CHAIN ..." in order
}

// parseSave reads iptables-save output for one table's chain.
func parseSave(out, table, chain string) saveChain {
	var c saveChain
	in := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			in = line == "*"+table
		case !in:
		case strings.HasPrefix(line, ":"+chain+" "):
			c.found = true
			f := strings.Fields(line)
			if len(f) > 1 {
				c.policy = f[1]
			}
		case strings.HasPrefix(line, "-A "+chain+" "):
			c.rules = append(c.rules, line)
		}
	}
	return c
}
