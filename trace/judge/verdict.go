package judge

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// Judge gives probe p its verdict from the facts alone: it reads no
// kernel state, so facts recorded by a trace are judged again anywhere.
// p is one of f.Probes.
func Judge(f *facts.Facts, p facts.ProbeFacts) Verdict {
	var v Verdict
	switch {
	case p.Kind == facts.KindMTU:
		v = judgeMTUProbe(p)
		if mv, ok := judgePathMTU(f, p); ok && !v.OK && (multiHop(p.Path) || multiHop(p.Back)) {
			// Past the sender's own link: the first link too small, and
			// what became of the error the hop before it sent.
			mv.RouteGet = routeGetIn(p, mv.Namespace)
			v = mv
		}
	case p.OK:
		v = passed(p)
		if hv, ok := heldOnTheWay(f, p, v); ok {
			v = hv // answered by a namespace holding the destination's address too
		}
	case p.Kind == facts.KindDNS && p.DNS != nil && p.DNS.Answered:
		v = judgeDNSAnswer(f, p)
	default:
		v = judgeFailed(f, p)
		v, _ = judgeKernel(f, p, v)
	}
	v = judgeNetfilter(f, p, v)
	v = engineWords(f, p, v)
	if c, ok := conflictOf(f, p); ok && !translated(f, p) {
		// Whatever the probe got: an echo the impostor answered is not ok.
		detail, fix := c.verdict()
		v = Verdict{Cause: facts.CauseConflict, Namespace: c.impostor, Fix: fix, RouteGet: v.RouteGet,
			Detail: detail + "; the probe's own verdict was: " + v.Detail}
	}
	v = dadfailedConflict(f, p, v)
	if errs := unnamedErrors(f, p, v.Detail); errs != "" && !v.OK {
		v.Detail += "; " + errs
	}
	v.Detail += kernelSaysOtherwise(v, kernelEvidence(p))
	v.Detail += gapsOf(f, p, v)
	return v
}

// gapsOf is what a failed verdict adds for the evidence that could not be
// read in the namespaces its probe crossed: the verdict may rest on it.
func gapsOf(f *facts.Facts, p facts.ProbeFacts, v Verdict) string {
	if v.OK {
		return ""
	}
	var out []string
	for _, g := range f.Gaps {
		if crosses(p, g.Namespace) {
			out = append(out, g.String())
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}

// crosses reports whether the probe's packets go through namespace ns.
func crosses(p facts.ProbeFacts, ns string) bool {
	if ns == p.From || ns == p.To {
		return true
	}
	for _, h := range append(slices.Clone(p.Path), p.Back...) {
		if h.Namespace == ns {
			return true
		}
	}
	return false
}

// passed is the verdict of a probe whose socket got everything.
func passed(p facts.ProbeFacts) Verdict {
	v := Verdict{OK: true, Cause: facts.CauseOK, Namespace: p.From}
	if p.Datagram() {
		v.Detail = passedDatagram(p)
		return v
	}
	if p.Kind != facts.KindTCP {
		v.Detail = fmt.Sprintf("%d/%d echo replies", p.Socket.Received, p.Socket.Count)
		return v
	}
	v.Detail = fmt.Sprintf("connected to %s", netip.AddrPortFrom(p.Request.Dst, p.Request.DPort))
	if p.Socket.Delivered != nil {
		v.Detail += ", test message delivered"
	}
	if p.Socket.Listener != nil {
		v.Detail += fmt.Sprintf(", to what already listened there: %s", p.Socket.Listener)
	}
	return v
}

// judgeFailed explains a failed probe: from its two ends first, then from
// its path when it crosses other namespaces, then from what answered in
// place of its peer (a reject), then by the rule that drops it.
func judgeFailed(f *facts.Facts, p facts.ProbeFacts) Verdict {
	var v Verdict
	if p.Kind == facts.KindTCP && p.Socket.Connected {
		v = Verdict{Cause: facts.CauseDropped, Namespace: p.To, RouteGet: routeGetIn(p, p.To),
			Detail: "connected, but the test message never reached the listener"}
	} else if ns, l := arpOff(f, p.Path); l != nil && !multiHop(p.Path) && !multiHop(p.Back) {
		// Two namespaces on one veth pair: nothing crosses it while one
		// end has ARP off (on a longer path the path judgement says it).
		v = arpOffVerdict(ns, l)
		v.RouteGet = routeGetIn(p, ns)
	} else {
		v = judgeEnds(f, p)
	}
	// A route that leaves the sender away from the veth into the
	// destination is wrong whatever lies past it.
	if (multiHop(p.Path) || multiHop(p.Back)) && v.Cause != facts.CauseWrongRoute {
		if mv, ok := judge(f, p); ok {
			if mv.RouteGet == nil {
				mv.RouteGet = routeGetIn(p, mv.Namespace)
			}
			v = mv
		}
		if note := truncatedNote(p); note != "" {
			v.Detail += "; " + note
		}
	}
	two := withEnds(p)
	socket := p.Socket.ICMPErr
	if p.Kind == facts.KindTCP {
		socket = p.Socket.ConnErr.Text
	}
	if p.Datagram() {
		socket = p.Socket.RecvErr.Text
	}
	if rv, ok := judgeRejected(f, two, socket); ok {
		rv.RouteGet = routeGetIn(p, rv.Namespace)
		return rv
	}
	if a := answered(f, two, ""); a != "" && strings.Contains(v.Detail, "nothing answered") {
		v.Detail = strings.Replace(v.Detail, "nothing answered", "no answer of its own came back ("+a+")", 1)
	}
	if v.Cause == facts.CauseDropped && v.Fix == "" && (v.Namespace == p.From || v.Namespace == p.To) {
		if dv, ok := judgeDropRule(f, two, v.Namespace); ok {
			story, _, _ := strings.Cut(v.Detail, ": ")
			v.Cause, v.Detail, v.Fix, v.blamed = dv.Cause, story+": "+dv.Detail, dv.Fix, blame{rule: true}
		}
	}
	return v
}

// withEnds is p with a path of its two ends each way when it has none.
func withEnds(p facts.ProbeFacts) facts.ProbeFacts {
	if len(p.Path) == 0 {
		p.Path = []facts.Hop{{Namespace: p.From, Role: facts.RoleSource}, {Namespace: p.To, Role: facts.RoleDestination}}
	}
	if len(p.Back) == 0 {
		p.Back = []facts.Hop{{Namespace: p.To, Role: facts.RoleSource}, {Namespace: p.From, Role: facts.RoleDestination}}
	}
	return p
}

// judgeMTUProbe judges the mtu probe. Its facts exist only when the
// small echo of the same direction passed: otherwise that echo's verdict
// covers it.
func judgeMTUProbe(p facts.ProbeFacts) Verdict {
	m := p.MTU
	if m == nil {
		m = &facts.MTUFacts{LastSeen: p.From}
	}
	v, _ := judgeMTU(mtuFacts{ns: p.From, to: p.To, dev: m.Dev, mtu: m.MTU, peerNS: m.PeerNS, peer: m.Peer, peerMTU: m.PeerMTU,
		sent: p.Socket.Count, got: p.Socket.Received, handed: p.Socket.Sent, small: true, pathMTU: m.PathMTU, cached: m.Cached,
		errFrom: m.ErrFrom, tooBig: m.TooBig, lastSeen: m.LastSeen, sendErr: m.SendErr})
	if !v.OK {
		v.RouteGet = routeGetIn(p, v.Namespace)
	}
	return v
}

// conflictOf finds an address conflict for p's direction: the sender's
// neighbour entry for the destination's address (or the destination's for
// the source's) pointing at a third namespace that holds the address too.
func conflictOf(f *facts.Facts, p facts.ProbeFacts) (conflict, bool) {
	from, to := f.StateAfter(p.From), f.StateAfter(p.To)
	if from == nil || to == nil {
		return conflict{}, false
	}
	var cands []*nsstate.NamespaceState
	for _, st := range f.After {
		if st.Name != p.From && st.Name != p.To {
			cands = append(cands, st)
		}
	}
	if c, ok := judgeConflict(from, to, p.Request.Dst, cands); ok {
		return c, true
	}
	return judgeConflict(to, from, p.Request.Src, cands)
}

// multiHop reports whether a path crosses a namespace besides its ends.
func multiHop(path []facts.Hop) bool {
	return slices.ContainsFunc(path, func(h facts.Hop) bool { return h.Role == facts.RoleBridge || h.Role == facts.RoleRouter })
}

// RouteGet is the route lookup done in the namespace a verdict blames.
type RouteGet struct {
	Namespace string `json:"namespace"`
	Command   string `json:"command"`
	OK        bool   `json:"ok"`
	Output    string `json:"output"`
}

// routeGetIn is the lookup p's verdict shows when it blames ns, or nil.
func routeGetIn(p facts.ProbeFacts, ns string) *RouteGet {
	for _, lk := range p.RouteGets {
		if lk.Namespace == ns {
			return routeGetOf(lk)
		}
	}
	return nil
}

// The command is built again from the lookup's namespace and addresses,
// never taken from its Command: stored facts may say anything there.
func routeGetOf(lk facts.Lookup) *RouteGet {
	return &RouteGet{Namespace: lk.Namespace, Command: lk.RouteGetCommand().String(), OK: lk.OK, Output: lk.Output}
}
