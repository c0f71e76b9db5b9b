package judge

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// Per-interface and per-namespace settings on a probe's ways (issue 19):
// forwarding, echo ignoring, rp_filter, and what listens on the port.

// ifaceForwarding finds a router on p's ways with forwarding on but off
// on the interface the packet arrives on: net.ipv4.conf.IF.forwarding=0.
func ifaceForwarding(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if p.Family != 4 {
		return v, false // IPv6 forwards by conf.all (ip6_forward)
	}
	for _, path := range legs(p) {
		for _, h := range path {
			ks := f.KernelIn(h.Namespace)
			if h.Role != facts.RoleRouter || ks == nil || ks.Settings == nil || ks.Settings.IPForward != 1 {
				continue
			}
			if c, ok := ks.Settings.Effective(h.In); ok && c.Forwarding == 0 {
				key := "net.ipv4.conf." + sysctlIface(h.In) + ".forwarding"
				return kernelVerdict(p, v, facts.CauseDropped, h.Namespace,
					fmt.Sprintf("forwarding is off on %s in %s (%s=0): what arrives there is not forwarded, though ip_forward is 1", h.In, h.Namespace, key),
					cmdline.InNamespace(h.Namespace, "sysctl", "-w", key+"=1").String()), true
			}
		}
	}
	return v, false
}

// sysctlIface is an interface name as a sysctl key holds it: sysctl reads
// dots as slashes, so a dot in the name is written as a slash.
func sysctlIface(name string) string { return strings.ReplaceAll(name, ".", "/") }

// echoIgnored: the destination ignores every echo request.
func echoIgnored(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if p.Kind == facts.KindTCP || p.Kind == facts.KindMTU || p.Datagram() || len(p.AnswerSeen) > 0 {
		return v, false
	}
	ks := f.KernelIn(p.To)
	if ks == nil || ks.Settings == nil || !slices.ContainsFunc(p.RequestSeen, func(s facts.Sight) bool { return s.Namespace == p.To }) {
		return v, false
	}
	key, on := "net.ipv4.icmp_echo_ignore_all", ks.Settings.ICMPEchoIgnoreAll == 1
	if p.Family == 6 {
		key, on = "net.ipv6.icmp.echo_ignore_all", ks.Settings.ICMPv6EchoIgnoreAll == 1
	}
	if !on {
		return v, false
	}
	return kernelVerdict(p, v, facts.CauseDropped, p.To,
		fmt.Sprintf("%s=1 in %s: %s answers no echo request", key, p.To, p.To),
		cmdline.InNamespace(p.To, "sysctl", "-w", key+"=0").String()), true
}

// loopbackListener: a refused connection to a port something listens on,
// bound to another address (127.0.0.1 only).
func loopbackListener(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if p.Kind != facts.KindTCP || v.Cause != facts.CausePortClosed || v.Namespace != p.To {
		return v, false
	}
	ks := f.KernelIn(p.To)
	if ks == nil || len(ks.Listeners) == 0 || slices.ContainsFunc(ks.Listeners, func(l nsstate.Listener) bool { return l.Accepts(p.Request.Dst) }) {
		return v, false
	}
	v.Detail += fmt.Sprintf("; %s: bound to that address, it takes no connection to %s", nsstate.Only(ks.Listeners), p.Request.Dst)
	v.Fix = "" // the listener must bind another address: its program's setting
	return v, true
}

// reversePath finds where a dropped packet entered a namespace with
// strict rp_filter on that interface while the namespace's route back to
// the packet's source leaves by another: the reverse-path check drops it
// there, whichever namespace the path judgement suspected.
func reversePath(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if v.Cause != facts.CauseDropped || p.Family != 4 {
		return v, false
	}
	for li, path := range legs(p) {
		src, seen := p.Request.Src, p.RequestSeen
		if li == 1 {
			src, seen = p.Request.Dst, p.AnswerSeen
		}
		for _, h := range path {
			ks := f.KernelIn(h.Namespace)
			if h.In == "" || ks == nil || ks.Settings == nil ||
				!slices.Contains(seen, facts.Sight{Namespace: h.Namespace, Iface: h.In, Dir: facts.DirIn}) {
				continue
			}
			c, ok := ks.Settings.Effective(h.In)
			back := anyLookup(ks, src)
			if !ok || c.RPFilter != 1 || back == nil || back.Route == nil || back.Route.Dev == h.In || !leadsAway(f, h.Namespace, back.Route.Dev) {
				continue
			}
			words := fmt.Sprintf("strict reverse-path filtering on %s in %s (rp_filter %d for all, %d for %s) drops what arrives there from %s: %s's route back to it leaves by %s, which leads on",
				h.In, h.Namespace, ks.Settings.All.RPFilter, ifaceRPFilter(ks.Settings, h.In), h.In, src, h.Namespace, back.Route.Dev)
			// Loose filtering takes a source any route leads back to.
			fix := cmdline.InNamespace(h.Namespace, "sysctl", "-w", "net.ipv4.conf.all.rp_filter=2", "net.ipv4.conf."+sysctlIface(h.In)+".rp_filter=2").String()
			if v.Namespace == h.Namespace {
				v.Detail, v.Fix = v.Detail+"; "+words, fix
				v.blamed.rpFilter = true
				return v, true
			}
			nv := kernelVerdict(p, v, facts.CauseDropped, h.Namespace, words, fix)
			nv.blamed.rpFilter = true
			return nv, true
		}
	}
	return v, false
}

func ifaceRPFilter(s *nsstate.Settings, iface string) int {
	if i := s.Interface(iface); i != nil {
		return i.IPv4.RPFilter
	}
	return -1
}

// leadsAway reports whether ns's interface dev is a veth whose peer is in
// another namespace: a route back by it goes somewhere.
func leadsAway(f *facts.Facts, ns, dev string) bool {
	st := f.State(ns)
	if st == nil || st.Link(dev) == nil || st.Link(dev).Peer == nil {
		return false
	}
	return st.Link(dev).Peer.Namespace != ns
}

// ifaceForwarding6 completes the verdict on a router whose IPv6
// forwarding is off (net.ipv6.conf.all.forwarding=0) while the interface
// the packet came in by has its own on: ip6_forward reads conf.all only,
// so the interface's value, which looks like it should forward, does not.
func ifaceForwarding6(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if p.Family != 6 || v.Cause != facts.CauseDropped {
		return v, false
	}
	for _, path := range legs(p) {
		for _, h := range path {
			ks := f.KernelIn(h.Namespace)
			if h.Role != facts.RoleRouter || h.Namespace != v.Namespace || ks == nil || ks.Settings == nil || ks.Settings.IPv6Forwarding != 0 {
				continue
			}
			if i := ks.Settings.Interface(h.In); i != nil && i.IPv6Forwarding == 1 {
				v.Detail += fmt.Sprintf("; net.ipv6.conf.%s.forwarding=1 does not forward by itself: the kernel forwards IPv6 by conf.all alone", sysctlIface(h.In))
				return v, true
			}
		}
	}
	return v, false
}
