package judge

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// An end's address held again by a namespace on the way (issue 19): a
// service address moved and left behind. That namespace takes a packet
// from it for a martian source unless accept_local is on where it comes
// in (fib_validate_source), its ARP questions included (arp_process asks
// the same route check), and keeps a packet to it for itself.

// ownedTwice finds a namespace on p's ways, not the end the address is
// the end of, holding an end's address: a packet of the probe's flow to
// it seen arriving there (it stays), or, when none was, ARP from that
// address unanswered there.
func ownedTwice(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if hv, ok := heldOnTheWay(f, p, v); ok {
		return hv, true
	}
	if p.Family != 4 {
		return v, false // IPv6 has no martian-source check of its own addresses
	}
	ends := []endAddr{{p.Request.Src, p.From}, {p.Request.Dst, p.To}}
	for _, r := range unansweredFrom(f, ends) {
		st, ks := f.State(r.Namespace), f.KernelIn(r.Namespace)
		if st == nil || ks == nil || ks.Settings == nil {
			continue
		}
		for _, e := range ends {
			a, end := e.addr, e.ns
			if end == r.Namespace || !st.Owns(a) || !askedFrom(f, r, a) {
				continue
			}
			c, ok := ks.Settings.Effective(r.Iface)
			if !ok || c.AcceptLocal != 0 {
				continue
			}
			detail := fmt.Sprintf("ARP for %s from %s, %s's address, reaches %s on %s, which holds %s too (%s): %s takes what comes from an address of its own for a martian source (accept_local is 0 on %s) and answers none",
				r.Target, a, end, r.Namespace, r.Iface, a, heldOn(st, a), r.Namespace, r.Iface)
			return kernelVerdict(p, v, facts.CauseConflict, r.Namespace, detail, delAddrFix(st, r.Namespace, a)), true
		}
	}
	return v, false
}

// heldOnTheWay finds a namespace on p's ways, routed to, holding the
// address of the end the way leads to, where a packet of the probe's flow
// to it was seen arriving while none was seen entering the end: it stays
// there, answered (an echo, a reset) by that namespace's own stack if at
// all. So an echo it answered is no ok. A namespace beside the end on a
// bridge answering for its address is conflictOf's, told by the
// neighbour entries.
func heldOnTheWay(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	for li, path := range legs(p) {
		dst, end, sender, seen := p.Request.Dst, p.To, p.From, p.RequestSeen
		if li == 1 {
			dst, end, sender, seen = p.Request.Src, p.From, p.To, p.AnswerSeen
		}
		for i, h := range path {
			st := f.State(h.Namespace)
			if h.Namespace == end || h.In == "" || !routedTo(f, path, i) || st == nil || !st.Owns(dst) ||
				!slices.Contains(seen, facts.Sight{Namespace: h.Namespace, Iface: h.In, Dir: facts.DirIn}) ||
				slices.ContainsFunc(seen, func(s facts.Sight) bool { return s.Namespace == end && s.Dir == facts.DirIn }) {
				continue
			}
			detail := fmt.Sprintf("%s holds %s, %s's address, too (%s): what is sent to it arrives in %s on %s and stays there, never reaching %s",
				h.Namespace, dst, end, heldOn(st, dst), h.Namespace, h.In, end)
			if p.OK {
				detail += fmt.Sprintf("; the answers came from %s itself", h.Namespace)
			}
			nv := kernelVerdict(p, v, facts.CauseConflict, h.Namespace, detail, delAddrFix(st, h.Namespace, dst))
			nv.blamed.heldFor = sender
			return nv, true
		}
	}
	return v, false
}

// routedTo reports whether path[i] is reached from the hop before by
// routing, not across a bridge: by a link that is no bridge port nor
// bridge device, from a hop that is no bridge. A namespace on the end's
// own segment holds its address as a neighbour would, conflictOf's to
// tell.
func routedTo(f *facts.Facts, path []facts.Hop, i int) bool {
	h := path[i]
	if i == 0 || h.Role == facts.RoleBridge || path[i-1].Role == facts.RoleBridge {
		return false
	}
	return f.KernelIn(h.Namespace).BridgeOf(h.In) == nil
}

// endAddr is an end of a probe: its address and namespace.
type endAddr struct {
	addr netip.Addr
	ns   string
}

// unansweredFrom is each unanswered ARP question seen arriving in a
// namespace that is not the end the question's target belongs to.
func unansweredFrom(f *facts.Facts, ends []endAddr) []facts.Resolution {
	var out []facts.Resolution
	for _, r := range f.Resolutions {
		if r.Unanswered && r.Dir == facts.DirIn && !slices.Contains(ends, endAddr{r.Target, r.Namespace}) {
			out = append(out, r)
		}
	}
	return out
}

// askedFrom reports whether the question r was seen leaving a namespace
// that holds a on the interface it left by: the question's sender address
// (arp_announce 0 takes the packet's own source, an end's address).
func askedFrom(f *facts.Facts, r facts.Resolution, a netip.Addr) bool {
	for _, o := range f.Resolutions {
		if o.Target != r.Target || o.Dir != facts.DirOut || o.Namespace == r.Namespace {
			continue
		}
		if st := f.State(o.Namespace); st != nil && st.Link(o.Iface) != nil && ownsAddr(st.Link(o.Iface).Addresses, a) {
			return true
		}
	}
	return false
}

// heldOn names where st holds a: "10.0.0.1/32 on lo".
func heldOn(st *nsstate.NamespaceState, a netip.Addr) string {
	if pfx, dev, ok := heldPrefix(st, a); ok {
		return pfx.String() + " on " + dev
	}
	return "?"
}

func heldPrefix(st *nsstate.NamespaceState, a netip.Addr) (netip.Prefix, string, bool) {
	for _, l := range st.Links {
		for _, pfx := range l.Addresses {
			if pfx.Addr() == a {
				return pfx, l.Name, true
			}
		}
	}
	return netip.Prefix{}, "", false
}

// delAddrFix deletes the copy of a that ns holds.
func delAddrFix(st *nsstate.NamespaceState, ns string, a netip.Addr) string {
	pfx, dev, ok := heldPrefix(st, a)
	if !ok {
		return ""
	}
	return cmdline.IP(ns, "addr", "del", pfx.String(), "dev", dev).String()
}
