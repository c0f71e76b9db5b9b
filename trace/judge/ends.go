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

// judgeEnds explains a failed probe from its two ends: the sender's route
// and links, the destination's route back, what the sockets said and
// where the captures saw the request and its answer. A path through other
// namespaces is judged again by judge, which may know better.
func judgeEnds(f *facts.Facts, p facts.ProbeFacts) Verdict {
	s, d := p.From, p.To
	dst := p.Request.Dst
	fwd := p.LookupIn(s)
	ev := evidenceOf(p)
	if v, ok := wrongWayVerdict(f, p, s, d, dst, fwd, ev.reachedDst); ok {
		return v
	}
	// A link set down also takes its routes away: blame the link first.
	if v, ok := linkDownVerdict(f, p, fwd); ok {
		return v
	}
	if !fwd.OK {
		v := Verdict{Cause: facts.CauseNoRoute, Namespace: s, RouteGet: routeGetOf(fwd),
			Detail: fmt.Sprintf("%s has no route to %s: nothing leaves it", s, dst),
			Fix:    routeFix(f, s, d, dst, fwd)}
		if br := fwd.Blocking; br.Type != "" {
			v.Detail = fmt.Sprintf("%s's route to %s is %q (%s): nothing leaves it", s, dst, br.String(), fwd.Output)
		}
		return v
	}
	if p.Socket.ConnErr.Is("ECONNREFUSED") {
		nc := []string{"nc", "-l"}
		if p.Family == 6 {
			nc = []string{"nc", "-6", "-l"}
		}
		return Verdict{Cause: facts.CausePortClosed, Namespace: d, RouteGet: routeGetIn(p, d),
			Detail: fmt.Sprintf("%s answered the SYN to port %d with a reset: nothing listens there", d, p.Request.DPort),
			Fix:    cmdline.InNamespace(d, append(nc, strconv.Itoa(int(p.Request.DPort)))...).String()}
	}
	if p.Datagram() && p.Socket.RecvErr.Is("ECONNREFUSED") && !ev.replyBack {
		return portUnreachable(p)
	}
	hop := dst
	if fwd.Gateway.IsValid() {
		hop = fwd.Gateway
	}
	if neighborFailed(f, p, hop) && !ev.reachedDst {
		v := Verdict{Cause: facts.CauseNeighbor, Namespace: s, RouteGet: routeGetOf(fwd),
			Detail: fmt.Sprintf("%s for %s on %s from %s got no answer", resolutionName(p.Family), hop, fwd.Dev, s)}
		switch owner := ownerOf(f, []string{s, d}, hop); {
		case owner == "":
			v.Detail += fmt.Sprintf("; no interface in %s or %s has that address", s, d)
		case owner == d && resolutionSeen(f, hop, d, "", facts.DirIn):
			// The owner saw the question and kept silent: the cause is there.
			v.Namespace, v.RouteGet = d, routeGetIn(p, d)
			why, _ := whyDropped(f, d)
			v.Detail += fmt.Sprintf("; the request reached %s, which owns %s and did not answer: %s", d, hop, why)
		}
		return v
	}
	if ev.reachedDst {
		return reachedVerdict(f, p, fwd, ev)
	}
	if ev.leftSender {
		return Verdict{Cause: facts.CauseDropped, Namespace: s, RouteGet: routeGetOf(fwd),
			Detail: fmt.Sprintf("the request left %s but never reached %s", s, d)}
	}
	why, b := whyDropped(f, s)
	return Verdict{Cause: facts.CauseDropped, Namespace: s, RouteGet: routeGetOf(fwd), blamed: b,
		Detail: fmt.Sprintf("the request never left %s: %s", s, why)}
}

// linkDownVerdict blames a link on the way between the two ends that is
// down, and the routes that went down with it.
func linkDownVerdict(f *facts.Facts, p facts.ProbeFacts, fwd facts.Lookup) (Verdict, bool) {
	s, d := p.From, p.To
	ns, name, down := linkDownAt(f, s, d, fwd.Dev)
	if !down {
		return Verdict{}, false
	}
	v := Verdict{Cause: facts.CauseLinkDown, Namespace: ns, RouteGet: routeGetIn(p, s),
		Detail: fmt.Sprintf("%s in %s is down", name, ns),
		Fix:    cmdline.IP(ns, "link", "set", name, "up").String()}
	here, other, addr := s, d, p.Request.Dst
	if ns != s {
		here, other, addr = d, s, p.Request.Src
		v.RouteGet = routeGetIn(p, d)
	}
	if lk := p.LookupIn(here); !lk.OK {
		// Setting the link down flushed the routes through it.
		if add := routeFix(f, here, other, addr, lk); add != "" {
			v.Fix += " && " + add
			v.Detail += ", and its routes went down with it"
		}
	}
	return v, true
}

// reachedVerdict judges a request that reached the destination: no route
// back, a route back the wrong way, or dropped on the way back or there.
func reachedVerdict(f *facts.Facts, p facts.ProbeFacts, fwd facts.Lookup, ev evidence) Verdict {
	s, d := p.From, p.To
	src := p.Request.Src
	back := p.LookupIn(d)
	if !back.OK {
		v := Verdict{Cause: facts.CauseNoReturnRoute, Namespace: d, RouteGet: routeGetOf(back),
			Detail: fmt.Sprintf("the request reached %s, which has no route back to %s", d, src),
			Fix:    routeFix(f, d, s, src, back)}
		if br := back.Blocking; br.Type != "" {
			v.Detail += fmt.Sprintf(": its route there is %q", br.String())
		}
		return v
	}
	// Reverse-path filtering drops a request whose route back is not
	// the way it came: then the kernel's own reason stands.
	if !slices.ContainsFunc(f.Counters, func(c facts.Counter) bool { return c.Namespace == d && strings.Contains(c.Name, "ReversePath") }) {
		if v, ok := wrongWayVerdict(f, p, d, s, src, back, ev.replyBack); ok {
			return v
		}
	}
	if ev.replyBack {
		why, b := whyDropped(f, s)
		return Verdict{Cause: facts.CauseDropped, Namespace: s, RouteGet: routeGetOf(fwd), blamed: b,
			Detail: fmt.Sprintf("the answer came back into %s but never reached the probe: %s", s, why)}
	}
	why, b := whyDropped(f, d)
	if p.Datagram() && b == (blame{}) && !p.Socket.RecvErr.Is("ECONNREFUSED") {
		why += fmt.Sprintf("; nor did an ICMP port unreachable come back, which %s's kernel sends when nothing is bound to UDP port %d: what is bound there does not answer", d, p.Request.DPort)
	}
	return Verdict{Cause: facts.CauseDropped, Namespace: d, RouteGet: routeGetOf(back), blamed: b,
		Detail: fmt.Sprintf("the request reached %s, which has a route back, yet nothing answered: %s", d, why)}
}

// evidence is where the captures saw a probe's request and its answer,
// as far as its two ends go.
type evidence struct {
	leftSender, reachedDst bool // the request
	replyBack              bool // the answer
}

func evidenceOf(p facts.ProbeFacts) evidence {
	at := func(seen []facts.Sight, ns string, d facts.Dir) bool {
		return slices.ContainsFunc(seen, func(s facts.Sight) bool { return s.Namespace == ns && s.Dir == d })
	}
	return evidence{leftSender: at(p.RequestSeen, p.From, facts.DirOut), reachedDst: at(p.RequestSeen, p.To, facts.DirIn),
		replyBack: at(p.AnswerSeen, p.From, facts.DirIn)}
}

// linkDownAt finds, among s's output interface dev and its interfaces
// whose veth peer is in d, the first one down, or its peer down.
func linkDownAt(f *facts.Facts, s, d, dev string) (ns, name string, down bool) {
	st := f.State(s)
	if st == nil {
		return "", "", false
	}
	for _, l := range st.Links {
		facing := l.Peer != nil && l.Peer.Namespace == d
		if l.Name != dev && !facing {
			continue
		}
		if !l.Up {
			return s, l.Name, true
		}
		if l.Peer == nil {
			continue
		}
		for _, other := range []string{d, s} {
			if other != l.Peer.Namespace {
				continue
			}
			if pl := linkOf(f.State(other), l.Peer.Interface); pl != nil && !pl.Up {
				return other, pl.Name, true
			}
		}
	}
	return "", "", false
}

// neighborFailed: the sender's socket said the host is unreachable, or its
// neighbour table after the probes holds a failed entry for the next hop.
func neighborFailed(f *facts.Facts, p facts.ProbeFacts, hop netip.Addr) bool {
	if p.Socket.SendErr.Is("EHOSTUNREACH") || p.Socket.ConnErr.Is("EHOSTUNREACH") {
		return true
	}
	st := f.StateAfter(p.From)
	if st == nil {
		return false
	}
	for _, n := range st.Neighbors {
		if n.Addr == hop {
			return n.State.Unresolved()
		}
	}
	return false
}

// ownerOf is the namespace of names that has address a, or "".
func ownerOf(f *facts.Facts, names []string, a netip.Addr) string {
	for _, ns := range names {
		if st := f.State(ns); st != nil && st.Owns(a) {
			return ns
		}
	}
	return ""
}

// resolutionSeen reports whether a neighbour resolution for target was
// seen going dir in namespace ns, on iface when it is not empty.
func resolutionSeen(f *facts.Facts, target netip.Addr, ns, iface string, dir facts.Dir) bool {
	return slices.ContainsFunc(f.Resolutions, func(r facts.Resolution) bool {
		return r.Target == target && r.Namespace == ns && (iface == "" || r.Iface == iface) && r.Dir == dir
	})
}

// resolutionName names the family's neighbour resolution.
func resolutionName(family int) string {
	if family == 6 {
		return "neighbour discovery (NDP)"
	}
	return "ARP"
}

// whyDropped is what the facts hold that drops packets arriving in ns:
// the kernel's drop counters that grew during the probes, nftables rules
// that drop or reject, and strict reverse-path filtering; and which of
// the last two it blames.
func whyDropped(f *facts.Facts, ns string) (string, blame) {
	var b blame
	var reasons []string
	var grew []string
	for _, c := range f.Counters {
		if c.Namespace == ns {
			grew = append(grew, fmt.Sprintf("%s +%d", c.Name, c.Grew))
		}
	}
	if len(grew) > 0 {
		slices.Sort(grew)
		reasons = append(reasons, "kernel counters in "+ns+": "+strings.Join(grew, ", "))
	}
	var drops []string
	for _, r := range f.Rules {
		if r.Namespace == ns && !r.Policy && !ruleLegacy(r) && r.Verdict.Stops() {
			drops = append(drops, r.Text)
		}
	}
	if len(drops) > 0 {
		b.rule = true
		reasons = append(reasons, fmt.Sprintf("nftables in %s: %s (%s)", ns, strings.Join(drops, "; "), cmdline.InNamespace(ns, "nft", "list", "ruleset")))
	}
	if st := f.State(ns); st != nil {
		ifcs := []string{"all"}
		for _, l := range st.Links {
			if l.Name != "lo" {
				ifcs = append(ifcs, l.Name)
			}
		}
		for _, ifc := range ifcs {
			if st.RPFilter[ifc] == 1 {
				b.rpFilter = true
				reasons = append(reasons, fmt.Sprintf("strict rp_filter (net.ipv4.conf.%s.rp_filter=1)", ifc))
			}
		}
	}
	if len(reasons) == 0 {
		return "no firewall rule, rp_filter or kernel drop counter found to blame", b
	}
	return strings.Join(reasons, "; "), b
}

// IsDropCounter reports whether a counter's name says it counts packets
// the kernel dropped or failed.
func IsDropCounter(name string) bool {
	for _, w := range []string{"Drop", "Discard", "Err", "NoRoutes", "ReversePath", "Unknown", "Fail", "Overflow", "Unreachs"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// routeFix sets, in s, the route to the subnet of d that holds addr
// through s's interface whose peer is in d. `replace`, not `add`: a route
// that is there but wrong (another interface, a blackhole) makes add fail
// with "File exists". A blocking route more specific than the subnet
// (what s's failed lookup lk met) would still win, so it is deleted first.
func routeFix(f *facts.Facts, s, d string, addr netip.Addr, lk facts.Lookup) string {
	right := facing(f, s, d)
	if right == nil {
		return ""
	}
	dst := subnetOf(f, d, addr)
	// replace, not add: add fails with "File exists" on a route to dst,
	// a blackhole included.
	fix := cmdline.Route(s, "replace", dst, right.Name)
	if br := lk.Blocking; br.Type != "" && br.Dst.Bits() > dst.Bits() {
		return cmdline.Join(cmdline.IP(s, "route", "del", br.Type, br.Dst.String()), fix)
	}
	return fix.String()
}

// subnetOf is the subnet of d's address that holds addr, else addr alone.
func subnetOf(f *facts.Facts, d string, addr netip.Addr) netip.Prefix {
	dst := netip.PrefixFrom(addr, addr.BitLen())
	if st := f.State(d); st != nil {
		for _, l := range st.Links {
			for _, p := range l.Addresses {
				if p.Contains(addr) && p.Bits() > 0 {
					dst = p.Masked()
				}
			}
		}
	}
	return dst
}

// facing is s's interface whose veth peer is in d: on two namespaces
// joined by a veth pair, the only way to d. Nil when none is (a bridge or
// a router between them).
func facing(f *facts.Facts, s, d string) *nsstate.LinkState {
	st := f.State(s)
	if st == nil {
		return nil
	}
	for i, l := range st.Links {
		if l.Peer != nil && l.Peer.Namespace == d {
			return &st.Links[i]
		}
	}
	return nil
}

// wrongWayVerdict judges the route lk of s toward dst, in d: a route that
// leaves by an interface that does not lead to d while another does.
// arrived says the packet was seen entering d.
func wrongWayVerdict(f *facts.Facts, p facts.ProbeFacts, s, d string, dst netip.Addr, lk facts.Lookup, arrived bool) (Verdict, bool) {
	if !lk.OK || lk.Dev == "" {
		return Verdict{}, false
	}
	right := facing(f, s, d)
	if right == nil || !right.Up {
		return Verdict{}, false // no direct way to d, or it is down: not a question of routes
	}
	if pl := linkOf(f.State(d), right.Peer.Interface); pl == nil || !pl.Up {
		return Verdict{}, false
	}
	w := wrongWay{ns: s, to: d, dst: dst, subnet: subnetOf(f, d, dst), route: lk.Output,
		dev: lk.Dev, right: right.Name, resolution: resolutionName(p.Family), arrivedAtTo: arrived}
	if l := linkOf(f.State(s), lk.Dev); l != nil && l.Peer != nil {
		if l.Peer.Namespace == d {
			return Verdict{}, false // another veth into d: the right way too
		}
		w.devLeads = l.Peer.String()
	}
	for _, seen := range [][]facts.Sight{p.RequestSeen, p.AnswerSeen} {
		for _, sg := range seen {
			if sg.Namespace == s && sg.Iface == lk.Dev && sg.Dir == facts.DirOut {
				w.leftOnDev++
			}
		}
	}
	hop := dst
	if lk.Gateway.IsValid() {
		hop = lk.Gateway
	}
	w.askedOnDev = resolutionSeen(f, hop, s, lk.Dev, facts.DirOut)
	cause, detail, fix, ok := judgeWrongWay(w)
	if !ok {
		return Verdict{}, false
	}
	return Verdict{Cause: cause, Namespace: s, RouteGet: routeGetOf(lk), Detail: detail, Fix: fix}, true
}
