package judge

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// The judgement of the kernel's own word (nffacts.go): a rule the
// nftables trace saw drop a probe's packet decides a failed verdict, a
// translation conntrack made carries the verdict to the namespace behind
// it, and evidence that could not be read is said. Pure, like judge.go.

// netfilterSaid reports whether the facts hold anything of tracing: facts
// recorded before it are judged as they were.
func netfilterSaid(f *facts.Facts) bool {
	return len(f.NFTraced) > 0 || slices.ContainsFunc(f.Gaps, func(g facts.Gap) bool { return g.What == facts.GapNFTrace })
}

// judgeNetfilter weighs the kernel's word against v, the verdict of a
// probe judged without it.
func judgeNetfilter(f *facts.Facts, p facts.ProbeFacts, v Verdict) Verdict {
	if !netfilterSaid(f) || p.Kind == facts.KindMTU && v.OK {
		return v
	}
	tr := probeTranslations(f, p)
	if v.OK {
		for _, t := range tr {
			v.Detail += "; " + t.said(f)
		}
		return v
	}
	if p.Kind == facts.KindTCP && p.Socket.Connected && translated(f, p) {
		// Connected to what listens behind the translation: the test
		// message went there, not to trace's listener.
		v = passed(p)
		for _, t := range tr {
			v.Detail += "; " + t.said(f) + ", which answered"
		}
		return v
	}
	if nv, ok := natVerdict(f, p, tr); ok {
		return nv
	}
	if d, ok := deciding(f, p); ok {
		return ruleDecided(f, p, v, d)
	}
	if d, ok := ndDropped(f, p); ok {
		return ndVerdict(f, p, v, d)
	}
	if v.Cause == facts.CauseDropped || v.Cause == facts.CauseRejected || strings.Contains(v.Detail, "nothing to blame") || strings.Contains(v.Detail, "found to blame") {
		v.Detail += "; " + missingEvidence(f, p, v)
	}
	return v
}

// protoNumber is a Packet's protocol as an IP protocol number.
func protoNumber(proto string) uint8 {
	switch proto {
	case "icmp":
		return 1
	case "tcp":
		return 6
	case "udp":
		return 17
	case "ipv6-icmp":
		return 58
	}
	return 0
}

// ofProbe says whether d is a decision about p's request (or answer):
// never neighbour discovery between the same addresses (ndjudge.go).
func ofProbe(d facts.NFDecision, p facts.ProbeFacts) bool {
	r := p.Request
	if d.ND != 0 || d.Proto != protoNumber(r.Proto) {
		return false
	}
	src, dst, dport := d.Src, d.Dst, d.DPort
	if d.Answer {
		src, dst, dport = d.Dst, d.Src, d.SPort
	}
	return src == r.Src && dst == r.Dst && (!r.Ports() || dport == r.DPort)
}

// deciding is the decision that stopped p: its request's first on its
// path, else its answer's.
func deciding(f *facts.Facts, p facts.ProbeFacts) (facts.NFDecision, bool) {
	for _, c := range []struct {
		answer bool
		path   []facts.Hop
	}{{false, p.Path}, {true, p.Back}} {
		var found []facts.NFDecision
		for _, d := range f.NFTrace {
			if d.Answer == c.answer && d.Stops() && ofProbe(d, p) {
				found = append(found, d)
			}
		}
		slices.SortStableFunc(found, func(x, y facts.NFDecision) int { return hopIndex(c.path, x.Namespace) - hopIndex(c.path, y.Namespace) })
		if len(found) > 0 {
			return found[0], true
		}
	}
	return facts.NFDecision{}, false
}

// hopIndex is ns's place on path; past the end when it is not on it.
func hopIndex(path []facts.Hop, ns string) int {
	if i := slices.IndexFunc(path, func(h facts.Hop) bool { return h.Namespace == ns }); i >= 0 {
		return i
	}
	return len(path)
}

// ruleDecided is the verdict of a probe whose packet a rule (or policy)
// dropped, as the kernel's trace told it.
func ruleDecided(f *facts.Facts, p facts.ProbeFacts, v Verdict, d facts.NFDecision) Verdict {
	what := "the request"
	if d.Answer {
		what = "the answer"
	}
	cause, done := facts.CauseDropped, "dropped"
	if strings.Contains(d.Rule, "REJECT") || strings.Contains(d.Rule, "reject") {
		cause, done = facts.CauseRejected, "rejected"
	}
	said := fmt.Sprintf("nftables trace: %s was %s in %s by %s", what, done, d.Namespace, decisionNamed(d))
	if len(d.Path) > 1 {
		said += ", reached by " + d.ChainPath()
	}
	said += rewrites(d.WrittenBy)
	if (v.blamed.rule || v.Cause == facts.CauseRejected) && v.Namespace == d.Namespace {
		// nsdump's own evaluation found a rule there too: what it said
		// stands (a reject's answer, where it was seen), the kernel's word
		// names the rule and gives the fix.
		v.Detail += "; " + said
		if fix := undoOf(d); fix != "" {
			v.Fix = fix
		}
		return v
	}
	detail := said
	if v.Story != "" {
		detail = v.Story + "; " + said
	}
	nv := Verdict{Cause: cause, Namespace: d.Namespace, Detail: detail, Fix: undoOf(d), Story: v.Story, RouteGet: routeGetIn(p, d.Namespace)}
	nv.blamed.rule = true
	return nv
}

// decisionNamed is the rule as the verdict names it.
func decisionNamed(d facts.NFDecision) string {
	policy := fmt.Sprintf("the policy %s of chain %s %s %s", d.Verdict, d.Family, d.Table, d.Chain)
	switch {
	case d.Policy && d.Xtables:
		return fmt.Sprintf("%s (%q)", policy, d.Rule)
	case d.Policy:
		return policy
	case d.Xtables:
		return fmt.Sprintf("%q", d.Rule)
	case d.Rule != "":
		return fmt.Sprintf("nftables rule %q (%s %s %s handle %d)", d.Rule, d.Family, d.Table, d.Chain, d.Handle)
	}
	return fmt.Sprintf("nftables rule handle %d of chain %s %s %s (its text unread)", d.Handle, d.Family, d.Table, d.Chain)
}

// missingEvidence says what the verdict was made without: tracing off
// (a gap of no namespace; gapsOf names those of the namespaces crossed),
// or that the kernel's trace saw no rule stop it.
func missingEvidence(f *facts.Facts, p facts.ProbeFacts, v Verdict) string {
	var gaps []string
	crossed := false
	for _, g := range f.Gaps {
		switch {
		case g.What == facts.GapEngine:
			continue // not the rules' evidence (engine.go says it)
		case g.Namespace == "":
			gaps = append(gaps, g.String())
		case crosses(p, g.Namespace):
			crossed = true
		}
	}
	switch {
	case len(gaps) > 0:
		return "evidence missing: " + strings.Join(gaps, "; ") + " (rules judged by nsdump's own evaluation)"
	case crossed:
		return "rules judged by nsdump's own evaluation, without the evidence below"
	case v.blamed.rule:
		return "judged by nsdump's own evaluation of the rules: the kernel's nftables trace saw no nftables or iptables-nft rule drop it (it cannot see iptables-legacy's)"
	}
	return "the kernel's nftables trace saw no nftables or iptables-nft rule drop it"
}

// nsOwns says whether namespace ns holds addr, as its recorded state says.
func nsOwns(f *facts.Facts, ns string, addr netip.Addr) bool {
	for _, states := range [][]*nsstate.NamespaceState{f.Namespaces, f.After} {
		for _, st := range states {
			if st.Name == ns && stateHolds(st, addr) {
				return true
			}
		}
	}
	return false
}

// holderOf is the namespace that holds addr, or "".
func holderOf(f *facts.Facts, addr netip.Addr) string {
	for _, states := range [][]*nsstate.NamespaceState{f.Namespaces, f.After} {
		for _, st := range states {
			if stateHolds(st, addr) {
				return st.Name
			}
		}
	}
	return ""
}

// probeTranslations are the rewrites of p's flow conntrack showed, in
// path order.
func probeTranslations(f *facts.Facts, p facts.ProbeFacts) []Translation {
	var out []Translation
	r := p.Request
	for _, c := range f.Conntrack {
		o := c.Original
		if o.Proto != protoNumber(r.Proto) || o.Src != r.Src || o.Dst != r.Dst || r.Ports() && o.DPort != r.DPort {
			continue
		}
		if !f.Spend(1 + len(f.Namespaces) + len(f.After)) {
			break // stored facts past their budget
		}
		for _, t := range translations(c, func(a netip.Addr) bool { return nsOwns(f, c.Namespace, a) }) {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y Translation) int { return hopIndex(p.Path, x.Namespace) - hopIndex(p.Path, y.Namespace) })
	return out
}

// natRule is the rule that made t, when the trace saw it.
func (t Translation) natRule(f *facts.Facts) (facts.NFDecision, bool) {
	for _, d := range f.NFTrace {
		if d.Namespace != t.Namespace || d.Answer || d.Rule == "" || d.Verdict != "accept" {
			continue
		}
		dest := strings.EqualFold(d.Base, "prerouting") || strings.EqualFold(d.Base, "output")
		if dest == (t.Kind != NATSource) && (d.Dst == t.From.Addr() || d.Src == t.From.Addr()) {
			return d, true
		}
	}
	return facts.NFDecision{}, false
}

// legacyNATRule is the iptables-legacy nat rule of t's namespace whose
// target makes t (a DNAT to t.To, a REDIRECT to its port, an SNAT to its
// address, a MASQUERADE), when it is the only one. The nftables trace
// cannot see legacy rules, so the rule is read from the targets, never
// from matching the packet.
func (t Translation) legacyNATRule(f *facts.Facts) (facts.Rule, bool) {
	var found []facts.Rule
	for _, r := range f.Rules {
		if r.Namespace != t.Namespace || r.Table != "nat" || r.Policy || !ruleLegacy(r) || (r.Family == "ip6") != t.To.Addr().Is6() {
			continue
		}
		if t.madeBy(r.Text) && !slices.ContainsFunc(found, func(o facts.Rule) bool { return o.Chain == r.Chain && o.Handle == r.Handle }) {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return facts.Rule{}, false
	}
	return found[0], true
}

// madeBy says whether an iptables rule's target (text as iptables-save
// writes it) rewrites to where t did.
func (t Translation) madeBy(text string) bool {
	var target, to string
	w := strings.Fields(text)
	for i := 0; i+1 < len(w); i++ {
		switch w[i] {
		case "-j":
			target = w[i+1]
		case "--to-destination", "--to-source", "--to-ports":
			to = w[i+1]
		}
	}
	addr := t.To.Addr().String()
	if t.To.Addr().Is6() {
		addr = "[" + addr + "]"
	}
	sameAddr := to == t.To.Addr().String() || to == addr
	samePort := t.To.Port() == t.From.Port()
	switch {
	case t.Kind == NATSource:
		return target == "MASQUERADE" || target == "SNAT" && (sameAddr || to == t.To.String())
	case target == "DNAT":
		return to == t.To.String() || sameAddr && (samePort || t.To.Port() == 0)
	case target == "REDIRECT":
		return t.To.Addr() == t.From.Addr() && (to == strconv.Itoa(int(t.To.Port())) || to == "" && samePort)
	}
	return false
}

// undo is the fix that removes the rule that made t, if nsdump knows it,
// and what the detail adds when a tool writes that rule again.
func (t Translation) undo(f *facts.Facts) (fix, said string) {
	if d, ok := t.natRule(f); ok {
		return undoOf(d), rewrites(d.WrittenBy)
	}
	if r, ok := t.legacyNATRule(f); ok {
		_, fix := nameRule(f.Rules, r)
		return fix, rewrites(r.WrittenBy)
	}
	return "", ""
}

// said is the translation as a verdict says it.
func (t Translation) said(f *facts.Facts) string {
	from, to := t.From.String(), t.To.String()
	if t.From.Port() == 0 {
		from, to = t.From.Addr().String(), t.To.Addr().String()
	}
	s := fmt.Sprintf("%s is %s'd in %s to %s", from, t.Kind, t.Namespace, to)
	if t.Kind == NATSource {
		s = "the source " + s
	}
	if d, ok := t.natRule(f); ok {
		s += " (" + decisionNamed(d) + ")"
	} else if r, ok := t.legacyNATRule(f); ok {
		detail, _ := nameRule(f.Rules, r)
		s += " (by its target, " + detail + ")"
	}
	return s
}

// natVerdict judges a failed probe behind a translation: the backend that
// refused it, or the translation itself when it leads nowhere.
func natVerdict(f *facts.Facts, p facts.ProbeFacts, tr []Translation) (Verdict, bool) {
	for _, t := range tr {
		switch {
		case t.Kind == NATSource && !nsOwns(f, t.Namespace, t.To.Addr()) && f.State(t.Namespace) != nil:
			v := Verdict{Cause: facts.CauseNAT, Namespace: t.Namespace, RouteGet: routeGetIn(p, t.Namespace),
				Detail: fmt.Sprintf("%s, an address %s does not hold: the answers go to it and never come back", t.said(f), t.Namespace)}
			fix, said := t.undo(f)
			v.Fix, v.Detail = fix, v.Detail+said
			return v, true
		case t.Kind == NATSource:
			continue
		}
		backend := t.Namespace
		if t.Kind == NATDest {
			backend = holderOf(f, t.To.Addr())
		}
		if p.Refused || p.Socket.ConnErr.Is("ECONNREFUSED") {
			if backend == "" {
				backend = t.Namespace
			}
			port := strconv.Itoa(int(t.To.Port()))
			nc := []string{"nc", "-l"}
			if p.Family == 6 {
				nc = []string{"nc", "-6", "-l"}
			}
			return Verdict{Cause: facts.CausePortClosed, Namespace: backend, RouteGet: routeGetIn(p, backend),
				Detail: fmt.Sprintf("%s; %s answered with a reset: nothing listens on %s there", t.said(f), t.To.Addr(), port),
				Fix:    cmdline.InNamespace(backend, append(nc, port)...).String()}, true
		}
		if backend == "" {
			v := Verdict{Cause: facts.CauseNAT, Namespace: t.Namespace, RouteGet: routeGetIn(p, t.Namespace),
				Detail: fmt.Sprintf("%s, an address no namespace nsdump read holds: nothing answers there", t.said(f))}
			fix, said := t.undo(f)
			v.Fix, v.Detail = fix, v.Detail+said
			return v, true
		}
	}
	return Verdict{}, false
}

// translated says whether conntrack saw p's destination rewritten: an
// answer from the address behind it is no address conflict.
func translated(f *facts.Facts, p facts.ProbeFacts) bool {
	return slices.ContainsFunc(probeTranslations(f, p), func(t Translation) bool { return t.Kind != NATSource })
}

// stateHolds says whether a namespace's recorded state has addr on a link.
func stateHolds(st *nsstate.NamespaceState, addr netip.Addr) bool {
	for _, l := range st.Links {
		for _, pfx := range l.Addresses {
			if pfx.Addr().Unmap() == addr.Unmap() {
				return true
			}
		}
	}
	return false
}

// undoOf is the command that takes the rule out of the packet's way, built
// word by word from the facts' names (validated, quoted by cmdline): an
// iptables rule deleted by its spec, an nft rule by its handle, a
// dropping policy set to accept. None for names no command can carry.
func undoOf(d facts.NFDecision) string {
	if d.Xtables {
		if cmdline.IptablesTable(d.Table) != nil || cmdline.IptablesChain(d.Chain) != nil {
			return ""
		}
		tool := "iptables"
		if d.Family == "ip6" {
			tool = "ip6tables"
		}
		switch {
		case d.Policy:
			return cmdline.InNamespace(d.Namespace, tool, "-t", d.Table, "-P", d.Chain, "ACCEPT").String()
		case len(d.Spec) == 0:
			return ""
		}
		return cmdline.InNamespace(d.Namespace, append([]string{tool, "-t", d.Table, "-D", d.Chain}, d.Spec...)...).String()
	}
	if cmdline.NftFamily(d.Family) != nil || cmdline.NftName(d.Table) != nil || cmdline.NftName(d.Chain) != nil {
		return ""
	}
	if d.Policy {
		return cmdline.InNamespace(d.Namespace, "nft", fmt.Sprintf("chain %s %s %s { policy accept; }", d.Family, d.Table, d.Chain)).String()
	}
	return cmdline.InNamespace(d.Namespace, "nft", "delete", "rule", d.Family, d.Table, d.Chain, "handle", strconv.FormatUint(d.Handle, 10)).String()
}

// NATKind says what a translation rewrote.
type NATKind string

// Translations a conntrack entry shows.
const (
	NATDest     NATKind = "DNAT"
	NATRedirect NATKind = "REDIRECT"
	NATSource   NATKind = "SNAT"
)

// Translation is one rewrite of a probe flow in a namespace.
type Translation struct {
	Namespace string
	Kind      NATKind
	From, To  netip.AddrPort
}

// translations are the rewrites the entry shows: none when its reply
// tuple mirrors its original; owns says whether the translating namespace
// holds an address (a DNAT to its own address is a redirect).
func translations(c facts.ConntrackEntry, owns func(netip.Addr) bool) []Translation {
	o, r := c.Original, c.Reply
	var out []Translation
	if r.Src != o.Dst || r.SPort != o.DPort {
		k := NATDest
		if owns(r.Src) {
			k = NATRedirect
		}
		out = append(out, Translation{c.Namespace, k, netip.AddrPortFrom(o.Dst, o.DPort), netip.AddrPortFrom(r.Src, r.SPort)})
	}
	if r.Dst != o.Src || r.DPort != o.SPort {
		out = append(out, Translation{c.Namespace, NATSource, netip.AddrPortFrom(o.Src, o.SPort), netip.AddrPortFrom(r.Dst, r.DPort)})
	}
	return out
}

// Rewrites are the entry's translations as the namespace that made them
// sees them, before it is known which addresses it holds: a REDIRECT reads
// as a DNAT to its own address (WalkNAT stays there).
func Rewrites(c facts.ConntrackEntry) []Translation {
	return translations(c, func(netip.Addr) bool { return false })
}
