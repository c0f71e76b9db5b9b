package judge

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
)

// ParseRuleset reads `nft -j list ruleset` of namespace ns.
func ParseRuleset(ns string, js []byte) ([]facts.Rule, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("nft ruleset of %s: %w", ns, err)
	}
	var out []facts.Rule
	for _, obj := range doc.Nftables {
		if raw, ok := obj["chain"]; ok {
			var c struct {
				Family, Table, Name, Hook, Policy, Dev string
			}
			if json.Unmarshal(raw, &c) == nil && c.Hook != "" {
				out = append(out, facts.Rule{Namespace: ns, Family: c.Family, Table: c.Table, Chain: c.Name, Hook: c.Hook, Device: c.Dev,
					Policy: true, Verdict: policyVerdict(c.Policy), Text: "policy " + c.Policy})
			}
		}
		raw, ok := obj["rule"]
		if !ok {
			continue
		}
		var r struct {
			Family, Table, Chain string
			Handle               int
			Expr                 []map[string]json.RawMessage
		}
		if json.Unmarshal(raw, &r) != nil {
			continue
		}
		rule := facts.Rule{Namespace: ns, Family: r.Family, Table: r.Table, Chain: r.Chain, Handle: r.Handle}
		for _, e := range r.Expr {
			switch {
			case e["match"] != nil:
				rule.Conds = append(rule.Conds, parseMatch(e["match"]))
			case e["drop"] != nil:
				rule.Verdict = facts.RuleDrop
			case e["reject"] != nil:
				rule.Verdict = facts.RuleReject
				var rj struct{ Type, Expr string }
				if json.Unmarshal(e["reject"], &rj) == nil && rj.Type != "" {
					rule.With = rj.Type
					if rj.Expr != "" {
						rule.With += " type " + rj.Expr
					}
				}
			case e["accept"] != nil:
				rule.Verdict = facts.RuleAccept
			}
		}
		rule.Text = ruleText(rule)
		out = append(out, rule)
	}
	// A chain's hook comes with the chain; rules follow it.
	hooks := map[string]facts.Rule{}
	for _, r := range out {
		if r.Policy {
			hooks[r.Family+" "+r.Table+" "+r.Chain] = r
		}
	}
	for i, r := range out {
		if c, ok := hooks[r.Family+" "+r.Table+" "+r.Chain]; ok && !r.Policy {
			out[i].Hook, out[i].Device = c.Hook, c.Device
		}
	}
	return out, nil
}

// policyVerdict is a base chain's policy as nft -j writes it: accept or
// drop (anything else is none nsdump reads).
func policyVerdict(policy string) facts.RuleVerdict {
	switch policy {
	case "accept":
		return facts.RuleAccept
	case "drop":
		return facts.RuleDrop
	}
	return facts.RuleGoesOn
}

// ruleText writes the rule as nft would, as far as nsdump reads it: its
// matches and its verdict ("ip daddr 10.0.2.2 drop").
func ruleText(r facts.Rule) string {
	var f []string
	for _, c := range r.Conds {
		f = append(f, c.Key)
		if c.Op != "==" && c.Op != "in" {
			f = append(f, c.Op)
		}
		if len(c.Values) == 1 {
			f = append(f, c.Values[0])
		} else {
			f = append(f, "{ "+strings.Join(c.Values, ", ")+" }")
		}
	}
	if r.Verdict != facts.RuleGoesOn {
		f = append(f, r.Verdict.String())
	}
	if r.With != "" {
		f = append(f, "with", r.With)
	}
	return strings.Join(f, " ")
}

func parseMatch(raw json.RawMessage) facts.Cond {
	var m struct {
		Op    string
		Left  map[string]json.RawMessage
		Right json.RawMessage
	}
	json.Unmarshal(raw, &m)
	c := facts.Cond{Op: m.Op, Key: "?"}
	for k, v := range m.Left {
		var f struct{ Protocol, Field, Key string }
		json.Unmarshal(v, &f)
		switch k {
		case "payload":
			c.Key = f.Protocol + " " + f.Field
		case "meta":
			c.Key = "meta " + f.Key
		case "ct":
			c.Key = "ct " + f.Key
		default:
			c.Key = k
		}
	}
	c.Values = rightValues(m.Right)
	return c
}

// rightValues flattens a match's right side: a value, a prefix, a range,
// a set or a list of them.
func rightValues(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return []string{n.String()}
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, e := range list {
			out = append(out, rightValues(e)...)
		}
		return out
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		if p, ok := obj["prefix"]; ok {
			var pf struct {
				Addr string
				Len  int
			}
			json.Unmarshal(p, &pf)
			return []string{fmt.Sprintf("%s/%d", pf.Addr, pf.Len)}
		}
		if r, ok := obj["range"]; ok {
			v := rightValues(r)
			if len(v) == 2 {
				return []string{v[0] + "-" + v[1]}
			}
		}
		if set, ok := obj["set"]; ok {
			return rightValues(set)
		}
	}
	return []string{"?"}
}

// at is where a packet meets a chain: the interfaces it came in and goes
// out by, and whether it is the first packet of its flow.
type at struct {
	in, out string
	isNew   bool
}

// ruleMatches reports whether every condition of the rule holds for p;
// conditions nsdump cannot evaluate count as holding.
func ruleMatches(r facts.Rule, p facts.Packet, where at) bool {
	for _, c := range r.Conds {
		v, known := packetField(p, c.Key, where)
		if !known {
			continue
		}
		hit := false
		for _, want := range c.Values {
			if valueMatches(v, want) {
				hit = true
				break
			}
		}
		if c.Op == "!=" {
			hit = !hit
		}
		if !hit {
			return false
		}
	}
	return true
}

// packetField is the packet's value for an nft match key; known is false for a
// key nsdump does not evaluate.
func packetField(p facts.Packet, key string, where at) (v []string, known bool) {
	proto := p.Proto
	fam := "ip"
	if p.Family == 6 {
		fam = "ip6"
	}
	switch key {
	case "ip saddr", "ip6 saddr":
		return only(fam == strings.Fields(key)[0], p.Src.String()), true
	case "ip daddr", "ip6 daddr":
		return only(fam == strings.Fields(key)[0], p.Dst.String()), true
	case "ip protocol", "ip6 nexthdr", "meta l4proto":
		return protoNames(proto), true
	case "meta nfproto", "meta protocol", "ether type":
		if fam == "ip" {
			return []string{"ipv4", "ip", "2048", "0x0800"}, true
		}
		return []string{"ipv6", "ip6", "34525", "0x86dd"}, true
	case "tcp dport", "udp dport":
		return only(proto == strings.Fields(key)[0], strconv.Itoa(int(p.DPort))), true
	case "tcp sport", "udp sport":
		return only(proto == strings.Fields(key)[0], strconv.Itoa(int(p.SPort))), true
	case "th dport":
		return only(p.Ports(), strconv.Itoa(int(p.DPort))), true
	case "th sport":
		return only(p.Ports(), strconv.Itoa(int(p.SPort))), true
	case "icmp type", "icmpv6 type":
		return only(!p.Ports(), p.ICMPType), true
	case "meta iifname", "meta iif":
		return []string{where.in}, where.in != ""
	case "meta oifname", "meta oif":
		return []string{where.out}, where.out != ""
	case "ct state":
		if where.isNew {
			return []string{"new"}, true
		}
		return []string{"established"}, true
	}
	return nil, false
}

// only is []string{v} when cond holds, else nothing (no value matches).
func only(cond bool, v string) []string {
	if cond {
		return []string{v}
	}
	return nil
}

func protoNames(proto string) []string {
	switch proto {
	case "tcp":
		return []string{"tcp", "6"}
	case "udp":
		return []string{"udp", "17"}
	case "icmp":
		return []string{"icmp", "1"}
	}
	return []string{"ipv6-icmp", "icmpv6", "58"}
}

// valueMatches compares a packet's value with a rule's: equal, inside a
// prefix, or inside a range.
func valueMatches(vals []string, want string) bool {
	prefix, err := netip.ParsePrefix(want)
	isPrefix := strings.Contains(want, "/") && err == nil
	for _, v := range vals {
		if v == want {
			return true
		}
		if isPrefix {
			if a, err := netip.ParseAddr(v); err == nil && prefix.Contains(a) {
				return true
			}
			continue
		}
		if lo, hi, ok := strings.Cut(want, "-"); ok {
			n, e1 := strconv.Atoi(v)
			l, e2 := strconv.Atoi(lo)
			h, e3 := strconv.Atoi(hi)
			if e1 == nil && e2 == nil && e3 == nil && n >= l && n <= h {
				return true
			}
		}
	}
	return false
}

// hooksFor are the hooks a packet passes in a namespace of this role, by
// the families that see it there.
func hooksFor(role facts.Role, family string) []string {
	switch family {
	case "bridge":
		if role == facts.RoleBridge {
			return []string{"prerouting", "forward", "postrouting"}
		}
		return nil
	case "netdev":
		return []string{"ingress", "egress"}
	}
	switch role {
	case facts.RoleSource:
		return []string{"output", "postrouting"}
	case facts.RoleRouter:
		return []string{"prerouting", "forward", "postrouting"}
	case facts.RoleDestination:
		return []string{"prerouting", "input"}
	}
	return nil
}

// culprits are the rules and chain policies of ns that drop or reject p
// where it passes in a namespace of this role: in each base chain, the
// first rule with a verdict that matches, else the chain's policy.
func culprits(f *facts.Facts, ns string, role facts.Role, p facts.Packet, where at) []facts.Rule {
	if !f.Spend(len(f.Rules)) {
		return nil
	}
	return chainCulprits(f.Rules, func(r facts.Rule) bool {
		if r.Namespace != ns || !familySees(r.Family, p.Family) || !slices.Contains(hooksFor(role, r.Family), r.Hook) {
			return false
		}
		return r.Family != "netdev" || r.Device == "" || r.Device == where.in || r.Device == where.out
	}, func(r facts.Rule) bool {
		return r.Verdict != facts.RuleGoesOn && f.Spend(ruleCost(r)) && ruleMatches(r, p, where)
	})
}

// ruleCost is what matching the rule compares at most: each condition, each
// of its values.
func ruleCost(r facts.Rule) int {
	n := 1
	for _, c := range r.Conds {
		n += 1 + len(c.Values)
	}
	return n
}

// chainCulprits walks each base chain of the rules kept, in order: the
// first rule that decides stands for its chain (a culprit unless it
// accepts), else the chain's policy when it drops.
func chainCulprits(rules []facts.Rule, keep, decides func(facts.Rule) bool) []facts.Rule {
	chains := map[string][]facts.Rule{}
	var order []string
	for _, r := range rules {
		if !keep(r) {
			continue
		}
		k := r.Family + " " + r.Table + " " + ruleBaseChain(r)
		if _, ok := chains[k]; !ok {
			order = append(order, k)
		}
		chains[k] = append(chains[k], r)
	}
	var out []facts.Rule
	for _, k := range order {
		var policy *facts.Rule
		decided := false
		for i, r := range chains[k] {
			if r.Policy {
				policy = &chains[k][i]
				continue
			}
			if !decides(r) {
				continue
			}
			if r.Verdict != facts.RuleAccept {
				out = append(out, r)
			}
			decided = true
			break
		}
		if !decided && policy != nil && policy.Verdict == facts.RuleDrop {
			out = append(out, *policy)
		}
	}
	return out
}

func familySees(family string, v int) bool {
	switch family {
	case "ip":
		return v == 4
	case "ip6":
		return v == 6
	case "arp":
		return false
	}
	return true
}

// ruleDescribe names the rule as the detail shows it.
func ruleDescribe(r facts.Rule) string {
	if r.Policy {
		return fmt.Sprintf("the policy drop of chain %s %s %s (hook %s) in %s", r.Family, r.Table, r.Chain, r.Hook, r.Namespace)
	}
	text := r.Text
	if text == "" {
		text = r.Verdict.String()
	}
	return fmt.Sprintf("nftables rule %q (%s %s %s handle %d, hook %s) in %s", text, r.Family, r.Table, r.Chain, r.Handle, r.Hook, r.Namespace)
}

// ruleFix is the command that takes the rule or policy away; none when nft
// could not be told its table or chain (cmdline.NftName).
func ruleFix(r facts.Rule) cmdline.Command {
	if cmdline.NftFamily(r.Family) != nil || cmdline.NftName(r.Table) != nil || cmdline.NftName(r.Chain) != nil {
		return nil // nft could not be told which chain
	}
	if r.Policy {
		return cmdline.InNamespace(r.Namespace, "nft", fmt.Sprintf("chain %s %s %s { policy accept; }", r.Family, r.Table, r.Chain))
	}
	return cmdline.InNamespace(r.Namespace, "nft", "delete", "rule", r.Family, r.Table, r.Chain, "handle", strconv.Itoa(r.Handle))
}

// ruleBaseChain is the built-in chain whose walk meets the rule: its own, or
// where the jumps to it began.
func ruleBaseChain(r facts.Rule) string {
	if len(r.Path) > 0 {
		return r.Path[0]
	}
	return r.Chain
}
