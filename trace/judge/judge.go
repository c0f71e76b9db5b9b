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

// Verdict is what Judge concludes for one probe.
type Verdict struct {
	OK        bool        `json:"ok"`
	Cause     facts.Cause `json:"cause"`
	Namespace string      `json:"namespace"`
	Detail    string      `json:"detail"`
	Fix       string      `json:"fix,omitempty"`
	RouteGet  *RouteGet   `json:"route_get,omitempty"`
	// Story is where the packets went: "left A on a0, entered R on r0,
	// never left R".
	Story string `json:"story"`
	// blamed is what the verdict found to blame, which the kernel's
	// own reason for its drops is weighed against.
	blamed blame
}

// blame is what a verdict names: for a drop, a firewall rule (or a
// chain's policy), reverse-path filtering, or neither; for a neighbour
// that does not resolve, a link with ARP off or the neighbour entry of the
// namespace that asked.
type blame struct {
	rule, rpFilter bool
	noARP          bool   // a link with IFF_NOARP
	wrongMAC       bool   // a PERMANENT neighbour entry holding a MAC its address's owner does not have
	loopOf         string // the namespaces of a routing loop, each on its own line
	strayedTo      string // where a wrong route sent the packet, dying there
	neighborOf     string // the namespace whose neighbour entry never resolved (a neighbour verdict, or a link down on its resolution's way)
	heldFor        string // the sender whose packet a namespace holding its peer's address kept (address-conflict)
}

// event is one place a packet is expected on a path: entering or leaving
// the namespace of hop Hop.
type event struct {
	hop   int
	iface string
	dir   facts.Dir
}

// events are the places a packet following path passes, in order; upTo
// stops them at the first hop that is not a bridge (a neighbour
// resolution ends there).
func events(path []facts.Hop, resolution bool) []event {
	var out []event
	for i, h := range path {
		if i > 0 && h.In != "" {
			out = append(out, event{i, h.In, facts.DirIn})
			if resolution && h.Role != facts.RoleBridge {
				break
			}
		}
		if h.Out != "" {
			out = append(out, event{i, h.Out, facts.DirOut})
		}
	}
	return out
}

// place returns the index of the last event of evs that sights saw, or
// -1, and the sentence that tells it.
func place(path []facts.Hop, evs []event, sights []facts.Sight, what string) (int, string) {
	last := -1
	for i, e := range evs {
		if seenAt(path, e, sights) {
			last = i
		}
	}
	var parts []string
	for i, e := range evs[:last+1] {
		ns := path[e.hop].Namespace
		if !seenAt(path, e, sights) && i != last {
			continue
		}
		if e.dir == facts.DirIn {
			parts = append(parts, fmt.Sprintf("entered %s on %s", ns, e.iface))
		} else {
			parts = append(parts, fmt.Sprintf("left %s on %s", ns, e.iface))
		}
	}
	switch {
	case last >= 0 && last+1 == len(evs) && !complete(path) && evs[last].dir == facts.DirIn:
		parts = append(parts, "never left "+path[evs[last].hop].Namespace)
	case last+1 < len(evs) && evs[last+1].dir == facts.DirOut:
		parts = append(parts, "never left "+path[evs[last+1].hop].Namespace)
	case last+1 < len(evs):
		parts = append(parts, "never entered "+path[evs[last+1].hop].Namespace)
	}
	if len(parts) == 0 {
		return last, ""
	}
	return last, what + " " + strings.Join(parts, ", ")
}

// seenAt reports whether a sighting is the event. On a bridge's ports the
// direction is not compared: capture tells it by the frame's source MAC,
// which a bridged frame does not carry, and a packet following the path
// meets each port only one way.
func seenAt(path []facts.Hop, e event, sights []facts.Sight) bool {
	ns := path[e.hop].Namespace
	return slices.ContainsFunc(sights, func(s facts.Sight) bool {
		return s.Namespace == ns && s.Iface == e.iface && (s.Dir == e.dir || path[e.hop].Role == facts.RoleBridge)
	})
}

// truncatedNote says, for a failed probe, which of its paths go on past
// the MaxHops namespaces nsdump follows: a verdict cannot see beyond them.
func truncatedNote(p facts.ProbeFacts) string {
	var parts []string
	for _, c := range []struct {
		cut  bool
		what string
		path []facts.Hop
	}{{p.PathTruncated, "the way there", p.Path}, {p.BackTruncated, "the way back", p.Back}} {
		if c.cut && len(c.path) > 0 {
			last := c.path[len(c.path)-1]
			parts = append(parts, fmt.Sprintf("%s goes on past %s (out %s)", c.what, last.Namespace, last.Out))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " and ") + fmt.Sprintf(", beyond the %d namespaces nsdump follows: not followed, captured or judged there", facts.MaxHops)
}

// judge explains a failed probe whose path crosses other namespaces than
// its two ends: it places the sightings on the path and blames the
// namespace where the packet was last seen. ok is false when the facts
// hold nothing it can place, and the two-namespace diagnosis stands.
func judge(f *facts.Facts, p facts.ProbeFacts) (Verdict, bool) {
	if len(p.Path) == 0 {
		return Verdict{}, false
	}
	seen, resolution := requestOrResolution(f, p)
	what := "the request"
	if resolution {
		what = "the neighbour resolution"
	}
	evs := events(p.Path, resolution)
	last, story := place(p.Path, evs, seen, what)
	if ns, l := arpOff(f, p.Path); l != nil {
		// Nothing crosses a link with ARP off, whatever else is set.
		v := arpOffVerdict(ns, l)
		if story == "" {
			story = fmt.Sprintf("nothing left %s", p.Path[0].Namespace)
		}
		v.Story, v.Detail, v.RouteGet = story, story+": "+v.Detail, blamedLookup(f, p, ns)
		return v, true
	}
	if last < 0 {
		return nothingLeft(f, p, resolution)
	}
	var v Verdict
	switch {
	case p.PathTruncated && last == len(evs)-1:
		return Verdict{}, false // it went on past the namespaces followed
	case last < len(evs)-1 || !complete(p.Path):
		v = stuck(f, p, p.Path, evs, last, p.Request, false)
		if resolution && v.Cause == facts.CauseLinkDown {
			v.blamed.neighborOf = p.Path[0].Namespace // it asked, and never heard back
		}
	case resolution:
		rv, ok := unanswered(f, p, p.Path, evs[last], p.Request, false)
		if !ok {
			return Verdict{}, false
		}
		v = rv
		story += ", which never answered"
	default:
		var ok bool
		if v, story, ok = judgeAnswer(f, p, story); !ok {
			return Verdict{}, false
		}
	}
	v.Story = story
	v.Detail = story + ": " + v.Detail
	if v.RouteGet == nil {
		v.RouteGet = blamedLookup(f, p, v.Namespace)
	}
	if errs := icmpErrors(f, p); errs != "" {
		v.Detail += "; " + errs
	}
	return v, true
}

// judgeAnswer judges a request that reached its destination by what came
// back: where the answer (or its neighbour resolution) stopped on its way,
// or the destination's firewall when nothing answered. story is the
// request's so far; false leaves the verdict to the two-namespace
// diagnosis (the destination's own doing).
func judgeAnswer(f *facts.Facts, p facts.ProbeFacts, story string) (Verdict, string, bool) {
	aseen, aresolution := answerOrResolution(f, p)
	what := "the answer"
	if aresolution {
		what = "the answer's neighbour resolution"
	}
	bevs := events(p.Back, aresolution)
	blast, bstory := place(p.Back, bevs, aseen, what)
	if p.BackTruncated && !aresolution && blast >= 0 && blast == len(bevs)-1 {
		return Verdict{}, story, false // the answer went on past the namespaces followed
	}
	if aresolution && blast >= 0 {
		story += "; " + bstory
		if blast < len(bevs)-1 {
			return stuck(f, p, p.Back, bevs, blast, p.Answer, true), story, true
		}
		v, ok := unanswered(f, p, p.Back, bevs[blast], p.Answer, true)
		return v, story + ", which never answered", ok
	}
	if blast < 0 && !p.Refused {
		// Nothing answered: the destination's firewall, on the way in
		// or on the way out, if a rule matches.
		d := p.Path[len(p.Path)-1]
		rs := culprits(f, d.Namespace, facts.RoleDestination, p.Request, at{in: d.In, isNew: true})
		if len(p.Back) > 0 {
			rs = append(rs, culprits(f, d.Namespace, facts.RoleSource, p.Answer, at{out: p.Back[0].Out})...)
		}
		if len(rs) == 0 {
			return Verdict{}, story, false
		}
		return ruleVerdict(rs), story + ", nothing answered", true
	}
	if blast == len(bevs)-1 && complete(p.Back) && !p.Refused {
		// The answer came back into the sender and never reached the probe.
		s := p.Back[len(p.Back)-1]
		rs := culprits(f, s.Namespace, facts.RoleDestination, p.Answer, at{in: s.In})
		if len(rs) == 0 {
			return Verdict{}, story, false
		}
		return ruleVerdict(rs), story + "; " + bstory + ", never reached the probe", true
	}
	if blast < 0 || (blast == len(bevs)-1 && complete(p.Back)) || p.Refused {
		return Verdict{}, story, false // the destination's own doing: the two-namespace diagnosis knows it
	}
	return stuck(f, p, p.Back, bevs, blast, p.Answer, true), story + "; " + bstory, true
}

// stuck blames the namespace where a packet following path was last seen:
// evs[last] is the last place it was seen.
func stuck(f *facts.Facts, p facts.ProbeFacts, path []facts.Hop, evs []event, last int, pkt facts.Packet, answer bool) Verdict {
	e := evs[last]
	if e.dir == facts.DirOut && last+1 < len(evs) {
		next := evs[last+1]
		// Left a namespace, never entered the next: the link between.
		h := path[next.hop]
		st := f.State(h.Namespace)
		if l := linkOf(st, h.In); l != nil && (!l.Up || !l.Carrier) {
			return linkDown(h.Namespace, l)
		}
		if rs := culprits(f, h.Namespace, h.Role, pkt, at{in: h.In, out: h.Out, isNew: !answer}); len(rs) > 0 {
			return ruleVerdict(rs)
		}
		return Verdict{Cause: facts.CauseDropped, Namespace: h.Namespace,
			Detail: fmt.Sprintf("no link, rule or setting found to blame in %s%s", h.Namespace, kernelSays(p, h.Namespace))}
	}
	h := path[e.hop]
	st := f.State(h.Namespace)
	// The way out: the interface, and past a veth its peer.
	if l := linkOf(st, h.Out); l != nil {
		if !l.Up {
			return linkDown(h.Namespace, l)
		}
		if !l.Carrier {
			if pl, pns := peerOf(f, l); pl != nil && !pl.Up {
				return linkDown(pns, pl)
			}
			return linkDown(h.Namespace, l)
		}
	}
	if h.Role == facts.RoleRouter && st != nil {
		on, key := st.Forwarding4, "net.ipv4.ip_forward"
		if p.Family == 6 {
			on, key = st.Forwarding6, "net.ipv6.conf.all.forwarding"
		}
		if !on {
			return Verdict{Cause: facts.CauseDropped, Namespace: h.Namespace,
				Detail: fmt.Sprintf("forwarding is off in %s (%s=0): it routes nothing it receives", h.Namespace, key),
				Fix:    cmdline.InNamespace(h.Namespace, "sysctl", "-w", key+"=1").String()}
		}
		if lk, ok := f.Lookup(h.Namespace, pkt.Dst, h.In); ok && !lk.OK {
			return routeVerdict(f, p, h, lk, pkt, answer)
		}
	}
	if rs := culprits(f, h.Namespace, h.Role, pkt, at{in: h.In, out: h.Out, isNew: !answer}); len(rs) > 0 {
		return ruleVerdict(rs)
	}
	if n, ok := unresolved(f, h.Namespace, h.Out, h.In, pkt.Dst); ok {
		return neighborVerdict(f, h.Namespace, n)
	}
	return Verdict{Cause: facts.CauseDropped, Namespace: h.Namespace,
		Detail: fmt.Sprintf("no link, route, rule or setting found to blame in %s%s", h.Namespace, kernelSays(p, h.Namespace))}
}

// routeVerdict blames a router whose lookup for the packet fails.
func routeVerdict(f *facts.Facts, p facts.ProbeFacts, h facts.Hop, lk facts.Lookup, pkt facts.Packet, answer bool) Verdict {
	if rpFiltered(f, lk) {
		return Verdict{Cause: facts.CauseDropped, Namespace: h.Namespace, RouteGet: routeGetOf(lk), blamed: blame{rpFilter: true},
			Detail: fmt.Sprintf("reverse-path filtering (rp_filter) in %s refuses %s from %s on %s", h.Namespace, pkt.Dst, pkt.Src, h.In),
			Fix:    cmdline.InNamespace(h.Namespace, "sysctl", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf."+h.In+".rp_filter=0").String()}
	}
	v := Verdict{Cause: facts.CauseNoRoute, Namespace: h.Namespace, RouteGet: routeGetOf(lk),
		Detail: fmt.Sprintf("%s has no route to %s for what it receives on %s (%s)", h.Namespace, pkt.Dst, h.In, lk.Output)}
	if answer {
		v.Cause = facts.CauseNoReturnRoute
		v.Detail = fmt.Sprintf("%s has no route back to %s (%s)", h.Namespace, pkt.Dst, lk.Output)
	}
	v.Fix = routeReplace(f, p, h.Namespace, pkt.Dst, answer)
	return v
}

// routeReplace is the route that sends dst from ns the way the other
// direction's packets came in: on that interface, directly when dst's
// subnet is on it, else via the neighbour they came from.
func routeReplace(f *facts.Facts, p facts.ProbeFacts, ns string, dst netip.Addr, answer bool) string {
	other := p.Back
	if answer {
		other = p.Path
	}
	i := slices.IndexFunc(other, func(h facts.Hop) bool { return h.Namespace == ns && h.Role != facts.RoleBridge })
	if i <= 0 {
		return ""
	}
	dev := other[i].In
	subnet := netip.PrefixFrom(dst, dst.BitLen())
	for _, st := range f.Namespaces {
		for _, l := range st.Links {
			for _, a := range l.Addresses {
				if a.Addr() == dst && a.Bits() < dst.BitLen() {
					subnet = a.Masked()
				}
			}
		}
	}
	st := f.State(ns)
	if l := linkOf(st, dev); l != nil {
		for _, a := range l.Addresses {
			if a.Masked().Contains(dst) {
				return cmdline.IP(ns, "route", "replace", subnet.String(), "dev", dev).String()
			}
		}
		// The neighbour the other direction came from: the last non-bridge hop before.
		for j := i - 1; j >= 0; j-- {
			if other[j].Role == facts.RoleBridge {
				continue
			}
			if pst := f.State(other[j].Namespace); pst != nil {
				if ol := linkOf(pst, other[j].Out); ol != nil {
					for _, oa := range ol.Addresses {
						for _, a := range l.Addresses {
							if a.Masked().Contains(oa.Addr()) {
								return cmdline.IP(ns, "route", "replace", subnet.String(), "via", oa.Addr().String(), "dev", dev).String()
							}
						}
					}
				}
			}
			break
		}
	}
	return ""
}

func ruleVerdict(rs []facts.Rule) Verdict {
	var names []string
	for _, r := range rs {
		name, _ := nameRule(nil, r) // an iptables-legacy rule as iptables names it
		names = append(names, name)
	}
	r := rs[0]
	cause := facts.CauseDropped
	if r.Verdict == facts.RuleReject {
		cause = facts.CauseRejected
	}
	_, fix := nameRule(nil, r)
	return Verdict{Cause: cause, Namespace: r.Namespace, Detail: strings.Join(names, "; ") + rewrites(r.WrittenBy), Fix: fix, blamed: blame{rule: true}}
}

// rewrites says that tool, which manages the rule, writes it again; ""
// for no tool.
func rewrites(tool string) string {
	if tool == "" {
		return ""
	}
	return fmt.Sprintf("; the rule is %s's: %s writes it again (on restart, on any change of its networks), so change it through %s", tool, tool, tool)
}

func linkDown(ns string, l *nsstate.LinkState) Verdict {
	state := "down"
	if l.Up {
		state = "up but has no carrier"
	}
	return Verdict{Cause: facts.CauseLinkDown, Namespace: ns,
		Detail: fmt.Sprintf("%s in %s is %s", l.Name, ns, state),
		Fix:    cmdline.IP(ns, "link", "set", l.Name, "up").String()}
}

func linkOf(st *nsstate.NamespaceState, name string) *nsstate.LinkState {
	if st == nil || name == "" {
		return nil
	}
	return st.Link(name)
}

// peerOf is a veth's other end, if its namespace is among the facts.
func peerOf(f *facts.Facts, l *nsstate.LinkState) (*nsstate.LinkState, string) {
	if l.Peer == nil {
		return nil, ""
	}
	for _, st := range f.Namespaces {
		if st.Name == l.Peer.Namespace || (l.PeerInode != 0 && st.Inode == l.PeerInode) {
			return st.Link(l.Peer.Interface), st.Name
		}
	}
	return nil, ""
}

// kernelSays is the kernel's reason for its drops of the probe in ns.
func kernelSays(p facts.ProbeFacts, ns string) string {
	var rs []string
	for _, d := range kernelEvidence(p) {
		if d.Namespace == ns {
			if s := d.Reason + " at " + d.Location; !slices.Contains(rs, s) {
				rs = append(rs, s)
			}
		}
	}
	if len(rs) == 0 {
		return ""
	}
	return "; the kernel dropped it: " + strings.Join(rs, ", ")
}

// icmpErrors names the ICMP errors about the probe, with the namespace
// that sent each and where it was seen.
func icmpErrors(f *facts.Facts, p facts.ProbeFacts) string {
	return strings.Join(icmpErrorList(f, p, ""), "; ")
}

// unnamedErrors names the ICMP errors about the probe that detail does
// not: an error captured is named whichever judgement explained the
// probe, and whichever of the probe's packets it quotes.
func unnamedErrors(f *facts.Facts, p facts.ProbeFacts, detail string) string {
	return strings.Join(icmpErrorList(f, p, detail), "; ")
}

// icmpErrorList names each ICMP error about the probe once, leaving out
// those detail already names.
func icmpErrorList(f *facts.Facts, p facts.ProbeFacts, detail string) []string {
	var out []string
	for _, e := range p.Errors {
		who, sender := e.From.String(), e.From.String()
		for _, st := range f.Namespaces {
			if st.Owns(e.From) {
				who, sender = st.Name+" ("+who+")", st.Name
			}
		}
		where := ""
		if len(e.Seen) > 0 {
			where = fmt.Sprintf(", seen at %s/%s %s", e.Seen[0].Namespace, e.Seen[0].Iface, e.Seen[0].Dir)
		}
		// Named already, as "X sent ICMP net unreachable" or in a
		// judgement's own words ("X answers them with frag-needed (...,
		// fragmentation needed, ...)").
		named := strings.Contains(detail, e.Text) && strings.Contains(detail, sender)
		if s := fmt.Sprintf("%s sent ICMP %s%s", who, e.Text, where); !named && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// nothingLeft: nothing of the probe was seen leaving its sender. A sender
// whose way out is down or has no carrier (its veth peer down) is blamed
// on that link; anything else is the two-namespace diagnosis's.
func nothingLeft(f *facts.Facts, p facts.ProbeFacts, resolution bool) (Verdict, bool) {
	h := p.Path[0]
	if rs := culprits(f, h.Namespace, facts.RoleSource, p.Request, at{out: h.Out, isNew: true}); len(rs) > 0 && !resolution {
		v := ruleVerdict(rs)
		v.Story = fmt.Sprintf("the request never left %s", h.Namespace)
		v.Detail = v.Story + ": " + v.Detail
		return v, true
	}
	out := h.Out
	if out == "" && len(p.Back) > 0 && p.Back[len(p.Back)-1].Namespace == h.Namespace {
		// No route out at all: a link set down takes its routes with it.
		// The way the other direction's packets come in is the way out.
		out = p.Back[len(p.Back)-1].In
	}
	l := linkOf(f.State(h.Namespace), out)
	if l == nil {
		return Verdict{}, false
	}
	var v Verdict
	if n, ok := unresolved(f, h.Namespace, out, "", p.Request.Dst); l.Up && l.Carrier && ok {
		// Its neighbour for the next hop never resolved.
		v = neighborVerdict(f, h.Namespace, n)
	} else if l.Up && l.Carrier {
		return Verdict{}, false
	} else {
		v = linkDown(h.Namespace, l)
		if l.Up {
			if pl, pns := peerOf(f, l); pl != nil && !pl.Up {
				v = linkDown(pns, pl)
			}
		}
		v.blamed.neighborOf = h.Namespace // its neighbour resolution goes nowhere
	}
	v.Story = fmt.Sprintf("nothing left %s on %s", h.Namespace, out)
	v.Detail = v.Story + ": " + v.Detail
	return v, true
}

// blamedLookup is the route lookup made in the blamed namespace for the
// probe's packet as it arrives there, if one was made.
func blamedLookup(f *facts.Facts, p facts.ProbeFacts, ns string) *RouteGet {
	for _, c := range []struct {
		path []facts.Hop
		dst  netip.Addr
	}{{p.Path, p.Request.Dst}, {p.Back, p.Answer.Dst}} {
		for _, h := range c.path {
			if h.Namespace == ns && h.In != "" && h.Role == facts.RoleRouter {
				if lk, ok := f.Lookup(ns, c.dst, h.In); ok {
					return routeGetOf(lk)
				}
			}
		}
	}
	return nil
}

// complete reports whether a path reaches its destination.
func complete(path []facts.Hop) bool {
	return len(path) > 0 && path[len(path)-1].Role == facts.RoleDestination
}

// requestOrResolution is what of the request a path judgement places:
// its own sightings, or when it never got past its sender, those of its
// neighbour resolution for the next hop (resolution true).
func requestOrResolution(f *facts.Facts, p facts.ProbeFacts) ([]facts.Sight, bool) {
	src := p.Path[0].Namespace
	if slices.ContainsFunc(p.RequestSeen, func(s facts.Sight) bool { return s.Namespace != src }) {
		return p.RequestSeen, false
	}
	nh := p.Request.Dst
	if lk, ok := f.Lookup(src, p.Request.Dst, ""); ok && lk.Gateway.IsValid() {
		nh = lk.Gateway
	}
	var seen []facts.Sight
	for _, r := range f.Resolutions {
		if r.Target == nh && !slices.Contains(seen, r.Sight) {
			seen = append(seen, r.Sight)
		}
	}
	if len(seen) == 0 {
		return p.RequestSeen, false
	}
	return seen, true
}

// answerOrResolution is what of the answer a path judgement places: its
// own sightings, or when the request arrived and no answer (nor error,
// nor reset) was seen anywhere, those of the replier's neighbour
// resolution for its next hop back, if that went unanswered.
func answerOrResolution(f *facts.Facts, p facts.ProbeFacts) ([]facts.Sight, bool) {
	if len(p.Back) == 0 || len(p.AnswerSeen) > 0 || p.Refused || len(p.Errors) > 0 {
		return p.AnswerSeen, false
	}
	replier := p.Back[0].Namespace
	nh := p.Answer.Dst
	if lk, ok := f.Lookup(replier, p.Answer.Dst, ""); ok && lk.Gateway.IsValid() {
		nh = lk.Gateway
	}
	var seen []facts.Sight
	for _, r := range f.Resolutions {
		if r.Target == nh && r.Unanswered && !slices.Contains(seen, r.Sight) {
			seen = append(seen, r.Sight)
		}
	}
	if !slices.ContainsFunc(seen, func(s facts.Sight) bool { return s.Namespace == replier }) {
		return p.AnswerSeen, false
	}
	return seen, true
}

// unanswered: a neighbour resolution entered the namespace of path's hop
// at e, which holds the address asked for and did not answer. Strict
// reverse-path filtering refuses ARP from a sender whose route back
// leaves by another interface; an arp-family rule may drop it.
func unanswered(f *facts.Facts, p facts.ProbeFacts, path []facts.Hop, e event, pkt facts.Packet, answer bool) (Verdict, bool) {
	h := path[e.hop]
	if lk, ok := f.Lookup(h.Namespace, pkt.Dst, h.In); ok && rpFiltered(f, lk) {
		v := routeVerdict(f, p, h, lk, pkt, answer)
		v.Detail += fmt.Sprintf(", its ARP requests included: %s's route back to %s leaves by another interface", h.Namespace, pkt.Src)
		if e.hop > 0 {
			// The namespace that asked gives up on its neighbour (after
			// its retries, NEIGH_FAILED) and drops what it queued.
			v.blamed.neighborOf = path[e.hop-1].Namespace
		}
		return v, true
	}
	if rs := arpCulprits(f, h.Namespace, "input", "output"); len(rs) > 0 {
		var names []string
		var fixes []cmdline.Command
		for _, r := range rs {
			names = append(names, ruleDescribe(r))
			fixes = append(fixes, ruleFix(r))
		}
		return Verdict{Cause: facts.CauseNeighbor, Namespace: h.Namespace,
			Detail: fmt.Sprintf("%s drops ARP: %s", h.Namespace, strings.Join(names, "; ")), Fix: cmdline.Join(fixes...)}, true
	}
	return Verdict{}, false
}

// rpFiltered reports whether a failed input lookup is reverse-path
// filtering's doing: the kernel says "Invalid cross-device link", or (as
// kernels since 6.13 answer any failed input lookup) "Invalid argument"
// where rp_filter is on for the interface.
func rpFiltered(f *facts.Facts, lk facts.Lookup) bool {
	if lk.OK || lk.Iif == "" {
		return false
	}
	errno := lk.Errno
	if errno == "" {
		// Facts recorded before lookups carried their errno.
		switch {
		case strings.Contains(lk.Output, "cross-device"):
			errno = "EXDEV"
		case strings.Contains(lk.Output, "Invalid argument"):
			errno = "EINVAL"
		}
	}
	if errno == "EXDEV" {
		return true
	}
	st := f.State(lk.Namespace)
	return st != nil && errno == "EINVAL" && max(st.RPFilter["all"], st.RPFilter[lk.Iif]) > 0
}
