package judge

import (
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// ARP settings that leave a probe's next hop unresolved (issue 19): the
// owner of an address ignores ARP for it (arp_ignore), answers only where
// its route back to the asker leaves (arp_filter), or a router that could
// answer for an address behind it does not (proxy_arp). arp_accept decides
// only whether unsolicited ARP makes entries, never a probe's own question.

// unansweredARP is each ARP question about one of p's addresses that the
// capture saw arrive in a namespace and never saw answered: the question's
// target, and the namespace and interface it arrived on.
func unansweredARP(f *facts.Facts, p facts.ProbeFacts) []facts.Resolution {
	if p.Family != 4 {
		return nil
	}
	var out []facts.Resolution
	for _, r := range f.Resolutions {
		if r.Unanswered && r.Dir == facts.DirIn && (r.Target == p.Request.Dst || r.Target == p.Request.Src) {
			out = append(out, r)
		}
	}
	return out
}

// arpIgnored: the owner of an address a probe's packets are sent to got
// the ARP question for it and, by its arp_ignore on the interface the
// question came in by, answers none: the address is on another of its
// interfaces (arp_ignore 1 or 2), or it answers no ARP there at all (8).
func arpIgnored(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	for _, r := range unansweredARP(f, p) {
		ks, st := f.KernelIn(r.Namespace), f.State(r.Namespace)
		if ks == nil || ks.Settings == nil || st == nil || !st.Owns(r.Target) {
			continue
		}
		c, ok := ks.Settings.Effective(r.Iface)
		holder := addrHolder(st, r.Target)
		why := ""
		switch {
		case !ok:
			continue
		case c.ARPIgnore == 8:
			why = fmt.Sprintf("so %s answers no ARP on %s at all", r.Namespace, r.Iface)
		case (c.ARPIgnore == 1 || c.ARPIgnore == 2) && holder != r.Iface:
			why = fmt.Sprintf("so %s answers ARP on %s only for addresses on %s itself, and %s is on %s", r.Namespace, r.Iface, r.Iface, r.Target, holder)
		default:
			continue
		}
		key := "net.ipv4.conf." + sysctlIface(r.Iface) + ".arp_ignore"
		detail := fmt.Sprintf("%s answers no ARP for %s on %s: arp_ignore is %d on %s (%s=%d, all %d), %s",
			r.Namespace, r.Target, r.Iface, c.ARPIgnore, r.Iface, key, ifaceConf(ks.Settings, r.Iface).ARPIgnore, ks.Settings.All.ARPIgnore, why)
		keys := []string{key + "=0"}
		if ks.Settings.All.ARPIgnore != 0 {
			// The kernel takes the larger of all and the interface's.
			keys = append(keys, "net.ipv4.conf.all.arp_ignore=0")
		}
		nv := kernelVerdict(p, v, facts.CauseNeighbor, r.Namespace, detail,
			cmdline.InNamespace(r.Namespace, append([]string{"sysctl", "-w"}, keys...)...).String())
		nv.blamed.neighborOf = firstAsker(f, r.Target) // it asked, and never heard back
		return nv, true
	}
	return v, false
}

// arpFiltered: the owner of an address got the ARP question for it on
// one interface, and with arp_filter on there answers only when its route
// back to the asker leaves by that interface (arp.c's arp_filter, a route
// lookup from the address to the asker's); it leaves by another.
func arpFiltered(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	for _, r := range unansweredARP(f, p) {
		ks, st := f.KernelIn(r.Namespace), f.State(r.Namespace)
		if ks == nil || ks.Settings == nil || st == nil || !st.Owns(r.Target) {
			continue
		}
		asker := p.Request.Src // the question is for the other end's address
		if r.Target == p.Request.Src {
			asker = p.Request.Dst
		}
		c, ok := ks.Settings.Effective(r.Iface)
		back := anyLookup(ks, asker)
		if !ok || c.ARPFilter != 1 || back == nil || back.Route == nil || back.Route.Dev == "" || back.Route.Dev == r.Iface {
			continue
		}
		key := "net.ipv4.conf." + sysctlIface(r.Iface) + ".arp_filter"
		detail := fmt.Sprintf("%s answers no ARP for %s on %s: arp_filter is on there (%s=%d, all %d), so it answers only where its route back to the asker %s leaves, and that route leaves by %s",
			r.Namespace, r.Target, r.Iface, key, ifaceConf(ks.Settings, r.Iface).ARPFilter, ks.Settings.All.ARPFilter, asker, back.Route.Dev)
		keys := []string{key + "=0"}
		if ks.Settings.All.ARPFilter != 0 {
			// The kernel takes arp_filter on when all or the interface has it.
			keys = append(keys, "net.ipv4.conf.all.arp_filter=0")
		}
		nv := kernelVerdict(p, v, facts.CauseNeighbor, r.Namespace, detail,
			cmdline.InNamespace(r.Namespace, append([]string{"sysctl", "-w"}, keys...)...).String())
		nv.blamed.neighborOf = firstAsker(f, r.Target)
		return nv, true
	}
	return v, false
}

// proxyARPOff: a sender takes an address to be on-link (its prefix holds
// it) and asks ARP for it; the question reaches a router that reaches the
// address by another interface, but answers for it only with proxy_arp,
// which is off there.
func proxyARPOff(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	owners := addressOwners(f)
	for _, r := range unansweredARP(f, p) {
		ks, st := f.KernelIn(r.Namespace), f.State(r.Namespace)
		if ks == nil || ks.Settings == nil || st == nil || st.Owns(r.Target) || owners[r.Target] == nil || ks.Settings.IPForward != 1 {
			continue
		}
		c, ok := ks.Settings.Effective(r.Iface)
		via := connectedVia(st, r.Target)
		if !ok || c.ProxyARP != 0 || via == "" || via == r.Iface {
			continue
		}
		asker, onLink := askerOf(f, r)
		if asker == "" {
			continue
		}
		key := "net.ipv4.conf." + sysctlIface(r.Iface) + ".proxy_arp"
		detail := fmt.Sprintf("%s's route to %s (%s dev %s) takes it to be on-link, so %s asks ARP for it; but %s is %s's, behind %s, and %s answers ARP for %s on %s only with proxy_arp (%s=0, all %d): it reaches %s by %s. Else give %s's address the router's prefix length",
			asker, r.Target, onLink, ifaceOfPrefix(f, asker, onLink), asker, r.Target, owners[r.Target].Name, r.Namespace,
			r.Namespace, r.Target, r.Iface, key, ks.Settings.All.ProxyARP, r.Target, via, asker)
		nv := kernelVerdict(p, v, facts.CauseNeighbor, r.Namespace, detail,
			cmdline.InNamespace(r.Namespace, "sysctl", "-w", key+"=1").String())
		nv.blamed.neighborOf = asker
		return nv, true
	}
	return v, false
}

// addrHolder is the interface of st holding a, or "".
func addrHolder(st *nsstate.NamespaceState, a netip.Addr) string {
	for _, l := range st.Links {
		if ownsAddr(l.Addresses, a) {
			return l.Name
		}
	}
	return ""
}

// connectedVia is the interface of st whose own subnet holds a, or "".
func connectedVia(st *nsstate.NamespaceState, a netip.Addr) string {
	for _, l := range st.Links {
		for _, pfx := range l.Addresses {
			if pfx.Masked().Contains(a) && pfx.Bits() < a.BitLen() {
				return l.Name
			}
		}
	}
	return ""
}

// askerOf is the namespace the unanswered question r left (the sighting
// of it going out) whose own subnet on that interface holds r's target,
// with that subnet.
func askerOf(f *facts.Facts, r facts.Resolution) (string, netip.Prefix) {
	for _, o := range f.Resolutions {
		if o.Target != r.Target || o.Dir != facts.DirOut {
			continue
		}
		st := f.State(o.Namespace)
		if st == nil || st.Link(o.Iface) == nil {
			continue
		}
		for _, pfx := range st.Link(o.Iface).Addresses {
			if pfx.Masked().Contains(r.Target) {
				return o.Namespace, pfx.Masked()
			}
		}
	}
	return "", netip.Prefix{}
}

// firstAsker is the namespace an ARP question for target was first seen
// leaving, or "".
func firstAsker(f *facts.Facts, target netip.Addr) string {
	for _, o := range f.Resolutions {
		if o.Target == target && o.Dir == facts.DirOut {
			return o.Namespace
		}
	}
	return ""
}

// ifaceOfPrefix is the interface of ns that has an address in pfx.
func ifaceOfPrefix(f *facts.Facts, ns string, pfx netip.Prefix) string {
	if st := f.State(ns); st != nil {
		for _, l := range st.Links {
			for _, a := range l.Addresses {
				if a.Masked() == pfx {
					return l.Name
				}
			}
		}
	}
	return "?"
}

// ifaceConf is the interface's own net.ipv4.conf values, -1 each when it
// has none recorded.
func ifaceConf(s *nsstate.Settings, iface string) nsstate.ConfV4 {
	if i := s.Interface(iface); i != nil {
		return i.IPv4
	}
	return nsstate.ConfV4{Forwarding: -1, RPFilter: -1, AcceptLocal: -1, ARPIgnore: -1, ARPFilter: -1, ARPAccept: -1, ProxyARP: -1}
}
