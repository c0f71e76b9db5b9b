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

// Neighbours and addresses on a probe's ways (issue 19): PERMANENT entries
// with another MAC than the owner's, gateways nobody holds, addresses the
// kernel will not use (tentative, dadfailed).

// wrongNeighbor finds a PERMANENT neighbour entry on p's ways whose MAC is
// not that of the interface owning its address: frames go to a MAC the
// owner drops. The entry's namespace is blamed, not the owner.
func wrongNeighbor(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	owners := addressOwners(f)
	done := map[string]bool{}
	for _, path := range legs(p) {
		for _, h := range path {
			ks := f.KernelIn(h.Namespace)
			if ks == nil || h.Out == "" || done[h.Namespace+"\x00"+h.Out] {
				continue
			}
			done[h.Namespace+"\x00"+h.Out] = true
			for _, n := range ks.Neighbors {
				owner := owners[n.Addr.Unmap()]
				if n.Dev != h.Out || n.State != nsstate.NeighPermanent || owner == nil || !nextHopAddr(ks, p, n.Addr) {
					continue
				}
				c := nsstate.CheckNeighbor(n, []nsstate.NamespaceState{*owner})
				if !c.Wrong {
					continue
				}
				nv := kernelVerdict(p, v, facts.CauseNeighbor, h.Namespace,
					fmt.Sprintf("%s's PERMANENT neighbour entry for %s on %s holds %s, but %s is %s's %s (%s): frames go to a MAC that drops them",
						h.Namespace, n.Addr, n.Dev, n.MAC, n.Addr, c.OwnerNamespace, c.OwnerLink, c.OwnerMAC),
					cmdline.IP(h.Namespace, "neigh", "del", n.Addr.String(), "dev", n.Dev).String())
				nv.blamed.wrongMAC = true // the owner drops them as another host's (OTHERHOST)
				return nv, true
			}
		}
	}
	return v, false
}

// nextHopAddr reports whether a is an address p's packets are sent to in
// ks's namespace: an end of the probe or a gateway its lookups chose.
func nextHopAddr(ks *facts.KernelState, p facts.ProbeFacts, a netip.Addr) bool {
	if a == p.Request.Dst || a == p.Request.Src {
		return true
	}
	return slices.ContainsFunc(ks.Lookups, func(l facts.RuleLookup) bool {
		return l.Route != nil && l.Route.Gateway == a.String()
	})
}

// unownedGateway finds a hop on p's ways whose route goes via a gateway no
// namespace holds, with the neighbour entry for it unresolved: the way
// there and, for the answers, the way back.
func unownedGateway(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	owners := addressOwners(f)
	for li, path := range legs(p) {
		dst := p.Request.Dst
		if li == 1 {
			dst = p.Request.Src
		}
		for i, h := range path {
			ks := f.KernelIn(h.Namespace)
			lk := ks.LookupFor(dst, h.In)
			if i == 0 {
				lk = ks.LookupFor(dst, "")
			}
			if lk == nil || lk.Route == nil || lk.Route.Gateway == "" {
				continue
			}
			gw, err := netip.ParseAddr(lk.Route.Gateway)
			if err != nil || owners[gw] != nil || !neighborUnresolved(ks, lk.Route.Dev, gw) {
				continue
			}
			nv := kernelVerdict(p, v, facts.CauseNeighbor, h.Namespace,
				fmt.Sprintf("%s's route to %s goes via %s on %s, an address no namespace on the path holds: its neighbour entry never resolves", h.Namespace, dst, gw, lk.Route.Dev),
				gatewayFix(f, h.Namespace, dst, gw, lk))
			nv.blamed.neighborOf = h.Namespace
			return nv, true
		}
	}
	return v, false
}

// neighborUnresolved reports whether ks's neighbour entry for a on dev holds no MAC.
func neighborUnresolved(ks *facts.KernelState, dev string, a netip.Addr) bool {
	return slices.ContainsFunc(ks.Neighbors, func(n nsstate.NeighborEntry) bool {
		return n.Dev == dev && n.Addr == a && n.State.Unresolved()
	})
}

// gatewayFix routes dst via the address, on the gateway's subnet, of the
// veth peer of the route's interface, in the table the lookup's rule
// consults; "" when the peer has none (or is not a veth's).
func gatewayFix(f *facts.Facts, ns string, dst, gw netip.Addr, lk *facts.RuleLookup) string {
	here := f.State(ns)
	if here == nil || here.Link(lk.Route.Dev) == nil || here.Link(lk.Route.Dev).Peer == nil {
		return ""
	}
	peer := here.Link(lk.Route.Dev).Peer
	st := f.State(peer.Namespace)
	if st == nil || st.Link(peer.Interface) == nil {
		return ""
	}
	for _, pfx := range st.Link(peer.Interface).Addresses {
		if pfx.Contains(gw) && pfx.Addr() != gw {
			args := []string{"route", "replace", netip.PrefixFrom(dst, dst.BitLen()).String(), "via", pfx.Addr().String(), "dev", lk.Route.Dev}
			if dst.Is6() {
				args = append([]string{"-6"}, args...)
			}
			return cmdline.IP(ns, append(args, lk.FixArgs()...)...).String()
		}
	}
	return ""
}

// unusableAddress: the probe's source address in its sender, or its
// destination in the other end, is one the kernel lets no socket use nor
// answers for: tentative (duplicate address detection under way) or
// dadfailed (another interface on the link has it).
func unusableAddress(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	for _, end := range []struct {
		ns   string
		addr netip.Addr
	}{{p.From, p.Request.Src}, {p.To, p.Request.Dst}} {
		ks := f.KernelIn(end.ns)
		if ks == nil {
			continue
		}
		for _, a := range ks.Addresses {
			if a.Prefix.Addr() != end.addr || a.Usable() {
				continue
			}
			return addressVerdict(f, p, v, end.ns, a), true
		}
	}
	return v, false
}

// addressVerdict blames a dadfailed address on the namespace that holds
// it too, when one on the paths does, and a tentative one on its own.
func addressVerdict(f *facts.Facts, p facts.ProbeFacts, v Verdict, ns string, a nsstate.AddrState) Verdict {
	readd := []cmdline.Command{
		cmdline.IP(ns, "addr", "del", a.Prefix.String(), "dev", a.Interface),
		cmdline.IP(ns, "addr", "add", a.Prefix.String(), "dev", a.Interface, "nodad"),
	}
	if a.Flags&nsstate.AddrDADFailed == 0 {
		return kernelVerdict(p, v, facts.CauseDropped, ns,
			fmt.Sprintf("%s on %s in %s is tentative: duplicate address detection is still under way, and the kernel lets no socket use it nor answers for it until it ends; added again with nodad, it is usable at once", a.Prefix.Addr(), a.Interface, ns),
			cmdline.Join(readd...))
	}
	detail := fmt.Sprintf("%s on %s in %s is dadfailed: duplicate address detection found another interface with it, and the kernel lets no socket use it nor answers for it", a.Prefix.Addr(), a.Interface, ns)
	for _, sts := range [][]*nsstate.NamespaceState{f.After, f.Namespaces} {
		for _, st := range sts {
			for _, l := range st.Links {
				if st.Name == ns && l.Name == a.Interface || !ownsAddr(l.Addresses, a.Prefix.Addr()) {
					continue
				}
				del := cmdline.IP(st.Name, "addr", "del", prefixOn(l.Addresses, a.Prefix.Addr()).String(), "dev", l.Name)
				return kernelVerdict(p, v, facts.CauseConflict, st.Name,
					detail+fmt.Sprintf(": %s holds it on %s", st.Name, l.Name),
					cmdline.Join(append([]cmdline.Command{del}, readd...)...))
			}
		}
	}
	return kernelVerdict(p, v, facts.CauseConflict, ns, detail+": the other holder is in no namespace on the paths", cmdline.Join(readd...))
}

func ownsAddr(ps []netip.Prefix, a netip.Addr) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Addr() == a })
}

// prefixOn is the prefix of ps holding a.
func prefixOn(ps []netip.Prefix, a netip.Addr) netip.Prefix {
	for _, p := range ps {
		if p.Addr() == a {
			return p
		}
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// dadfailedConflict completes an address-conflict verdict when an end's
// own copy of the address is dadfailed: removing the impostor's is not
// enough, the kernel keeps the failed one unusable until it is added again.
func dadfailedConflict(f *facts.Facts, p facts.ProbeFacts, v Verdict) Verdict {
	if v.Cause != facts.CauseConflict || strings.Contains(v.Fix, "nodad") {
		return v
	}
	for _, end := range []struct {
		ns   string
		addr netip.Addr
	}{{p.From, p.Request.Src}, {p.To, p.Request.Dst}} {
		ks := f.KernelIn(end.ns)
		if ks == nil {
			continue
		}
		for _, a := range ks.Addresses {
			if a.Prefix.Addr() != end.addr || a.Flags&nsstate.AddrDADFailed == 0 {
				continue
			}
			v.Detail = fmt.Sprintf("%s on %s in %s is dadfailed: ", a.Prefix.Addr(), a.Interface, end.ns) + v.Detail
			v.Fix = strings.Join([]string{v.Fix, cmdline.Join(
				cmdline.IP(end.ns, "addr", "del", a.Prefix.String(), "dev", a.Interface),
				cmdline.IP(end.ns, "addr", "add", a.Prefix.String(), "dev", a.Interface, "nodad"))}, " && ")
			return v
		}
	}
	return v
}
