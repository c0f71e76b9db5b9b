package netfilter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"
)

// Rules reads rule texts in one namespace, each source at most once.
type Rules struct {
	ns   Namespace
	nl   *conn
	save map[Family]string // iptables-nft-save output per family
}

// NewRules prepares to describe the rules of ns; Close releases it.
func NewRules(ns Namespace) (*Rules, error) {
	c, err := dial(ns.Handle)
	if err != nil {
		return nil, unreadable("nftables rules", ns.Name, err)
	}
	return &Rules{ns: ns, nl: c, save: map[Family]string{}}, nil
}

func (r *Rules) Close() { r.nl.close() }

// Decision is the rule, or the policy, that decided a traversal, with its
// text as the user wrote it. What could not be read is an *Unreadable.
func (r *Rules) Decision(ctx context.Context, w Traversal) (Rule, error) {
	d := w.Decided
	if d == nil {
		return Rule{}, unreadable("the deciding rule", r.ns.Name, errors.New("the trace events stop before a verdict"))
	}
	rule := Rule{Family: d.Family, Table: d.Table, Chain: d.Chain, Handle: d.Handle,
		Policy: d.Type == EventPolicy, ChainPath: append([]string(nil), w.Path...)}
	order, err := r.ruleOrder(rule.Family, rule.Table, rule.Chain)
	if err != nil {
		return rule, err
	}
	if !rule.Policy {
		for i, h := range order {
			if h == rule.Handle {
				rule.Position = i + 1
			}
		}
		if rule.Position == 0 {
			return rule, unreadable("nftables rules", r.ns.Name, fmt.Errorf("rule %d of chain %s %s %s: no longer there", rule.Handle, rule.Family, rule.Table, rule.Chain))
		}
	}
	if r.xtables(ctx, &rule, len(order)) {
		return rule, nil
	}
	return rule, r.nftText(ctx, &rule)
}

// ruleOrder dumps the chain's rule handles in the kernel's order.
func (r *Rules) ruleOrder(f Family, table, chain string) ([]uint64, error) {
	var e encoder
	e.str(unix.NFTA_RULE_TABLE, table)
	e.str(unix.NFTA_RULE_CHAIN, chain)
	msgs, err := r.nl.dump(message{Type: nftMsg(unix.NFT_MSG_GETRULE), Family: uint8(f), Attrs: e.b})
	if err != nil {
		return nil, unreadable("nftables rules", r.ns.Name, fmt.Errorf("list chain %s %s %s: %w", f, table, chain, err))
	}
	var out []uint64
	for _, m := range msgs {
		_, attrs, err := nfgen(m.Payload)
		if err != nil {
			return nil, unreadable("nftables rules", r.ns.Name, err)
		}
		for _, a := range attrs {
			if a.Type == unix.NFTA_RULE_HANDLE {
				h, err := a.be64()
				if err != nil {
					return nil, unreadable("nftables rules", r.ns.Name, err)
				}
				out = append(out, h)
			}
		}
	}
	return out, nil
}

// xtables fills the rule's iptables spec when iptables-nft-save lists its
// chain with as many rules as the kernel holds (rules added by nft into
// iptables' tables would shift the order: then the nft text is used).
func (r *Rules) xtables(ctx context.Context, rule *Rule, n int) bool {
	tool := map[Family]string{FamilyIP: "iptables-nft-save", FamilyIP6: "ip6tables-nft-save"}[rule.Family]
	if tool == "" {
		return false
	}
	out, ok := r.save[rule.Family]
	if !ok {
		b, err := r.command(ctx, tool)
		out = string(b)
		if err != nil {
			out = ""
		}
		r.save[rule.Family] = out
	}
	c := parseSave(out, rule.Table, rule.Chain)
	if !c.found || len(c.rules) != n {
		return false
	}
	rule.Xtables = true
	if rule.Policy {
		rule.Text = fmt.Sprintf("-P %s %s", rule.Chain, c.policy)
	} else {
		rule.Text = c.rules[rule.Position-1]
	}
	return true
}

func (r *Rules) nftText(ctx context.Context, rule *Rule) error {
	out, err := r.command(ctx, "nft", "-s", "-a", "list", "chain", rule.Family.String(), rule.Table, rule.Chain)
	if err != nil {
		return unreadable("nftables rules", r.ns.Name, fmt.Errorf("nft -a list chain %s %s %s: %w", rule.Family, rule.Table, rule.Chain, err))
	}
	c, err := parseNftChain(string(out), rule.Chain)
	if err != nil {
		return unreadable("nftables rules", r.ns.Name, err)
	}
	if rule.Policy {
		rule.Text = "policy " + c.policy
		return nil
	}
	text, ok := c.rules[rule.Handle]
	if !ok {
		return unreadable("nftables rules", r.ns.Name, fmt.Errorf("nft lists no rule with handle %d in chain %s %s %s", rule.Handle, rule.Family, rule.Table, rule.Chain))
	}
	rule.Text = text
	return nil
}

// command runs a tool inside the namespace, entered through the held fd
// (nsenter --net=/proc/self/fd/3), never by a name that could now mean
// another namespace.
func (r *Rules) command(ctx context.Context, name string, args ...string) ([]byte, error) {
	return runIn(ctx, r.ns, name, args...)
}

func runIn(ctx context.Context, ns Namespace, name string, args ...string) ([]byte, error) {
	fd, err := unix.FcntlInt(uintptr(ns.Handle), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicate the namespace fd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "netns")
	defer f.Close()
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/proc/self/fd/3", "--", name}, args...)...)
	cmd.ExtraFiles = []*os.File{f}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return out, fmt.Errorf("%s: %w: %s", name, err, firstLine(msg))
		}
		return out, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
