package judge

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// Routes and policy rules on a probe's ways (issue 19): the table the
// deciding rule consults, loops, routes out of the wrong interface.

// policyTable moves a route fix into the table the policy rule that
// decided the blamed namespace's lookup consults, and names the rule.
func policyTable(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if v.Cause != facts.CauseNoRoute && v.Cause != facts.CauseNoReturnRoute && v.Cause != facts.CauseWrongRoute {
		return v, false
	}
	dst := p.Request.Dst
	if v.Cause == facts.CauseNoReturnRoute {
		dst = p.Request.Src
	}
	lk := anyLookup(f.KernelIn(v.Namespace), dst)
	if lk == nil || lk.Rule == nil || lk.FixTable() == "main" {
		return v, false
	}
	if lk.FixTable() == "" {
		v.Detail += fmt.Sprintf("; ip rule %q refuses it by its own action", lk.Rule.String())
		v.Fix = cmdline.IP(v.Namespace, ruleDel(lk.Rule)...).String()
		return v, true
	}
	v.Detail += fmt.Sprintf("; ip rule %q sends it to table %s: a route for it belongs there, the main table is not consulted", lk.Rule.String(), lk.FixTable())
	switch {
	case v.Fix == "":
		// No route to write is known: the rule is what keeps the main
		// table's routes from the packet.
		v.Fix = cmdline.IP(v.Namespace, ruleDel(lk.Rule)...).String()
	case strings.Contains(v.Fix, " route replace ") && !strings.Contains(v.Fix, "&&") && !strings.Contains(v.Fix, " table "):
		v.Fix += " " + cmdline.Command(lk.FixArgs()).String()
	}
	return v, true
}

// ruleDel is the `ip rule del` of r, by its priority and selector.
func ruleDel(r *nsstate.PolicyRule) []string {
	return append([]string{"rule", "del", "priority", fmt.Sprint(r.Priority)}, strings.Fields(r.Selector)...)
}

// routingLoop follows the recorded lookups of one of p's ways from its
// sender: when they lead back into a namespace already passed, the
// packet goes round; the route that closes the cycle is blamed, where it
// lies. The capture must agree: an ICMP time exceeded, or the packet
// seen in the cycle.
func routingLoop(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	for li, path := range legs(p) {
		if len(path) == 0 {
			continue
		}
		dst, seen, what := p.Request.Dst, p.RequestSeen, "the request"
		if li == 1 {
			dst, seen, what = p.Request.Src, p.AnswerSeen, "the answer"
		}
		cycle, closer := walkLoop(f, path[0].Namespace, dst)
		if closer == nil {
			continue
		}
		exceeded, again := timeExceeded(p), revisited(p, cycle, li)
		if exceeded == "" && again == "" && !slices.ContainsFunc(seen, func(s facts.Sight) bool { return slices.Contains(cycle, s.Namespace) }) {
			continue
		}
		ns := cycle[len(cycle)-1]
		limit := "TTL"
		if p.Family == 6 {
			limit = "hop limit"
		}
		detail := fmt.Sprintf("%s goes round %s until its %s runs out%s%s: %s's route to %s (%s) sends it back to %s", what,
			strings.Join(append(slices.Clone(cycle), cycle[0]), " -> "), limit, exceeded, again, ns, dst, closer.Route.Line, cycle[0])
		lv := kernelVerdict(p, v, facts.CauseLoop, ns, detail, loopFix(ns, closer))
		lv.blamed.loopOf = strings.Join(cycle, "\n")
		return lv, true
	}
	return v, false
}

// walkLoop follows the lookups for dst from start, through veth peers:
// the namespaces of the cycle it enters (in order, from the one entered
// again) and the lookup that closes it, or nil.
func walkLoop(f *facts.Facts, start string, dst netip.Addr) ([]string, *facts.RuleLookup) {
	cur, iif := start, ""
	var passed []string
	for range 2 * facts.MaxHops {
		lk := f.KernelIn(cur).LookupFor(dst, iif)
		st := f.State(cur)
		if lk == nil || lk.Route == nil || lk.Route.Type == "local" || st == nil {
			return nil, nil
		}
		passed = append(passed, cur)
		l := st.Link(lk.Route.Dev)
		if l == nil || l.Peer == nil {
			return nil, nil
		}
		if l.Peer.Namespace == cur {
			return nil, nil // a veth with both ends here: not a way to another namespace
		}
		if i := slices.Index(passed, l.Peer.Namespace); i > 0 {
			return passed[i:], lk
		} else if i == 0 {
			return nil, nil // back to the sender, which forwards none of its own packets
		}
		cur, iif = l.Peer.Namespace, l.Peer.Interface
	}
	return nil, nil
}

// timeExceeded names the first ICMP time exceeded about p's packets:
// " (ICMP time exceeded from 10.0.0.1)", or "".
func timeExceeded(p facts.ProbeFacts) string {
	for _, e := range p.Errors {
		if p.Family == 4 && e.Type == 11 || p.Family == 6 && e.Type == 3 {
			return fmt.Sprintf(" (ICMP time exceeded from %s)", e.From)
		}
	}
	return ""
}

// revisited names the first packet of p's request seen again in a
// namespace of the cycle with a lower TTL (hop limit): " (the same packet
// seen again entering R2 by ta with TTL 61, after 63)", or "". Only the request's are
// recorded: the answer's way (leg 1) has none.
func revisited(p facts.ProbeFacts, cycle []string, leg int) string {
	if leg != 0 {
		return ""
	}
	word := "TTL"
	if p.Family == 6 {
		word = "hop limit"
	}
	for _, r := range p.Revisits {
		if slices.Contains(cycle, r.Namespace) {
			how := "entering " + r.Namespace + " by "
			if r.Dir == facts.DirOut {
				how = "leaving " + r.Namespace + " by "
			}
			return fmt.Sprintf(" (the same packet seen again %s%s with %s %d, after %d)", how, r.Iface, word, r.Again, r.TTL)
		}
	}
	return ""
}

// loopFix deletes the route that closes a loop, as the kernel matched it;
// "" when the kernel did not say which route that was.
func loopFix(ns string, lk *facts.RuleLookup) string {
	m := lk.Matched
	if m == nil || !m.Dst.IsValid() {
		return ""
	}
	args := []string{"route", "del", m.Dst.String()}
	if m.Dst.Addr().Is6() {
		args = append([]string{"-6"}, args...)
	}
	if m.Gateway.IsValid() {
		args = append(args, "via", m.Gateway.String())
	}
	if m.Dev != "" {
		args = append(args, "dev", m.Dev)
	}
	if m.Table != 0 && m.Table != 254 {
		args = append(args, "table", fmt.Sprint(m.Table))
	}
	return cmdline.IP(ns, args...).String()
}

// misdirected finds a hop whose route to the next hop's address leaves by
// an interface the address's owner is not behind, while the owner's veth
// peer is another interface of the same namespace: the neighbour entry on
// the route's interface never resolves. The route is wrong, not the
// neighbour.
func misdirected(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if v.Cause != facts.CauseNeighbor {
		return v, false // the path judgement's own wrong-route says more
	}
	owners := addressOwners(f)
	for li, path := range legs(p) {
		dst := p.Request.Dst
		if li == 1 {
			dst = p.Request.Src
		}
		for _, h := range path {
			ks := f.KernelIn(h.Namespace)
			lk := ks.LookupFor(dst, h.In)
			if h.Namespace != v.Namespace || lk == nil || lk.Route == nil || lk.Route.Dev == "" {
				continue
			}
			next := dst
			if gw, err := netip.ParseAddr(lk.Route.Gateway); err == nil {
				next = gw
			}
			right := peerFacing(owners[next], next, h.Namespace)
			if right == "" || right == lk.Route.Dev || !neighborUnresolved(ks, lk.Route.Dev, next) {
				continue
			}
			detail := fmt.Sprintf("%s's route to %s leaves by %s, but %s is %s's, behind %s: its neighbour entry on %s never resolves",
				h.Namespace, dst, lk.Route.Dev, next, owners[next].Name, right, lk.Route.Dev)
			if c, ok := ks.Settings.Effective(right); ks.Settings != nil && ok && c.RPFilter == 1 {
				detail += fmt.Sprintf("; and with strict rp_filter on %s, %s drops what %s sends in there, its route back leaving by %s", right, h.Namespace, owners[next].Name, lk.Route.Dev)
			}
			return kernelVerdict(p, v, facts.CauseWrongRoute, h.Namespace, detail, replaceFix(h.Namespace, dst, lk, right)), true
		}
	}
	return v, false
}

// peerFacing is the interface of namespace ns whose veth peer holds a in
// st, or "".
func peerFacing(st *nsstate.NamespaceState, a netip.Addr, ns string) string {
	if st == nil {
		return ""
	}
	for _, l := range st.Links {
		if ownsAddr(l.Addresses, a) && l.Peer != nil && l.Peer.Namespace == ns {
			return l.Peer.Interface
		}
	}
	return ""
}

// replaceFix re-points the route the lookup matched (dst's host route
// when the kernel did not say which) at dev, in its table.
func replaceFix(ns string, dst netip.Addr, lk *facts.RuleLookup, dev string) string {
	pfx, table := netip.PrefixFrom(dst, dst.BitLen()), uint32(0)
	if lk.Matched != nil && lk.Matched.Dst.IsValid() {
		pfx, table = lk.Matched.Dst, lk.Matched.Table
	}
	args := []string{"route", "replace", pfx.String()}
	if dst.Is6() {
		args = append([]string{"-6"}, args...)
	}
	if lk.Route.Gateway != "" {
		args = append(args, "via", lk.Route.Gateway)
	}
	args = append(args, "dev", dev)
	if table != 0 && table != 254 {
		args = append(args, "table", fmt.Sprint(table))
	}
	return cmdline.IP(ns, args...).String()
}

// policyUplink finds a namespace whose lookup for one of p's ways was
// decided by a policy rule sending it to another table than main, whose
// route leaves by an interface other than the one what comes from the
// destination enters by (a source-based rule in a router sending answers
// out of the wrong uplink): the rule's namespace is blamed, and the fix
// goes into the rule's table.
func policyUplink(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	ways := legs(p)
	for li, path := range ways {
		dst, what := p.Request.Dst, "the request"
		if li == 1 {
			dst, what = p.Request.Src, "the answer"
		}
		for _, h := range path {
			ks := f.KernelIn(h.Namespace)
			lk := ks.LookupFor(dst, h.In)
			if lk == nil || lk.Rule == nil || lk.Route == nil || lk.Rule.Table == 0 || lk.Rule.Table == 254 || lk.Rule.Table == 255 {
				continue
			}
			right := inOf(ways[1-li], h.Namespace)
			if right == "" || right == lk.Route.Dev {
				continue
			}
			detail := fmt.Sprintf("ip rule %q in %s sends %s to %s to table %d, whose route leaves by %s (%s); what comes from %s enters %s by %s",
				lk.Rule.String(), h.Namespace, what, dst, lk.Rule.Table, lk.Route.Dev, lk.Route.Line, dst, h.Namespace, right)
			wv := kernelVerdict(p, v, facts.CauseWrongRoute, h.Namespace, detail, uplinkFix(f, h.Namespace, dst, right, lk))
			if st := f.State(h.Namespace); st != nil && st.Link(lk.Route.Dev) != nil && st.Link(lk.Route.Dev).Peer != nil {
				wv.blamed.strayedTo = st.Link(lk.Route.Dev).Peer.Namespace
			}
			return wv, true
		}
	}
	return v, false
}

// inOf is the interface path enters ns by, or "".
func inOf(path []facts.Hop, ns string) string {
	for _, h := range path {
		if h.Namespace == ns {
			return h.In
		}
	}
	return ""
}

// uplinkFix routes dst's subnet by right in the rule's table when dst's
// owner sits right behind it; otherwise it deletes the rule.
func uplinkFix(f *facts.Facts, ns string, dst netip.Addr, right string, lk *facts.RuleLookup) string {
	if owner := addressOwners(f)[dst]; peerFacing(owner, dst, ns) == right {
		for _, l := range owner.Links {
			for _, pfx := range l.Addresses {
				if pfx.Addr() == dst {
					args := []string{"route", "replace", pfx.Masked().String(), "dev", right, "table", fmt.Sprint(lk.Rule.Table)}
					if dst.Is6() {
						args = append([]string{"-6"}, args...)
					}
					return cmdline.IP(ns, args...).String()
				}
			}
		}
	}
	return cmdline.IP(ns, ruleDel(lk.Rule)...).String()
}
