package judge

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
)

// narrow is the first link of a path too small for a packet: hop's way
// in (in) or out.
type narrow struct {
	hop   int
	in    bool
	iface string
	mtu   int
}

// narrowest finds, following path, the first interface whose MTU is below
// size, where a packet of that size stops.
func narrowest(f *facts.Facts, path []facts.Hop, size int) (narrow, bool) {
	for i, h := range path {
		st := f.State(h.Namespace)
		if l := linkOf(st, h.In); i > 0 && l != nil && l.MTU > 0 && l.MTU < size {
			return narrow{hop: i, in: true, iface: l.Name, mtu: l.MTU}, true
		}
		if l := linkOf(st, h.Out); l != nil && l.MTU > 0 && l.MTU < size {
			return narrow{hop: i, iface: l.Name, mtu: l.MTU}, true
		}
	}
	return narrow{}, false
}

// judgePathMTU explains an mtu probe that failed while the small echo of
// the same direction passed, on a path that crosses other namespaces:
// the first link too small for the sender's packets, and what became of
// the frag-needed / packet-too-big the hop in front of it sends.
func judgePathMTU(f *facts.Facts, p facts.ProbeFacts) (Verdict, bool) {
	if p.MTU == nil || p.MTU.MTU == 0 || p.MTU.PathMTU > 0 {
		return Verdict{}, false
	}
	size := p.MTU.MTU
	n, ok := narrowest(f, p.Path, size)
	if !ok || n.hop == 0 {
		return Verdict{}, false // the sender's own interface: it refuses to send, its judgement says so
	}
	src := p.Path[0]
	sent := fmt.Sprintf("the %d-byte packets with DF %s sends on %s", size, src.Namespace, src.Out)
	h := p.Path[n.hop]
	if n.in {
		// The two ends of one link disagree: the larger end sends what the
		// smaller drops, silently. Lowering the larger never breaks what
		// passes today.
		prev := p.Path[n.hop-1]
		pl := linkOf(f.State(prev.Namespace), prev.Out)
		if pl == nil {
			return Verdict{}, false
		}
		return Verdict{Cause: facts.CauseMTU, Namespace: prev.Namespace,
			Detail: fmt.Sprintf("the two ends of a link disagree on the MTU: %s/%s has %d, %s/%s has %d, which drops %s",
				prev.Namespace, pl.Name, pl.MTU, h.Namespace, n.iface, n.mtu, sent),
			Fix: cmdline.IP(prev.Namespace, "link", "set", pl.Name, "mtu", strconv.Itoa(n.mtu)).String()}, true
	}
	v := Verdict{Cause: facts.CauseMTU, Namespace: h.Namespace,
		Detail: fmt.Sprintf("%s/%s has MTU %d, less than %s", h.Namespace, n.iface, n.mtu, sent)}
	if h.Role == facts.RoleBridge {
		// A bridge drops a frame too large for its port, and tells no one.
		v.Detail += fmt.Sprintf(": the bridge in %s drops them without a word", h.Namespace)
		return v, true
	}
	tooBig := icmpTooBig(f, p, n.hop)
	what := "frag-needed (ICMP destination unreachable, fragmentation needed"
	if p.Family == 6 {
		what = "packet-too-big (ICMPv6"
	}
	v.Detail += fmt.Sprintf(": %s answers them with %s, mtu %d)", h.Namespace, what, n.mtu)
	if rs := tooBigCulprits(f, p.Path, n.hop, tooBig); len(rs) > 0 {
		r := ruleVerdict(rs)
		v.Namespace, v.Fix = r.Namespace, r.Fix
		v.Detail += fmt.Sprintf(", which %s drops, so %s never learns the path MTU (a path-MTU black hole)", r.Detail, src.Namespace)
		return v, true
	}
	v.Detail += fmt.Sprintf(", which never reached %s (a path-MTU black hole)", src.Namespace)
	if errs := icmpErrors(f, p); errs != "" {
		v.Detail += "; " + errs
	}
	if ks := kernelSays(p, h.Namespace); ks != "" {
		v.Detail += ks
	}
	// Without the error, the sender can only be told the size to use.
	v.Fix = cmdline.IP(src.Namespace, "link", "set", src.Out, "mtu", strconv.Itoa(n.mtu)).String()
	return v, true
}

// icmpTooBig is the error hop sends back to the sender of p's request:
// from its address on the way back (the interface the request came in
// by), to the request's source.
func icmpTooBig(f *facts.Facts, p facts.ProbeFacts, hop int) facts.Packet {
	pkt := facts.Packet{Family: p.Family, Proto: "icmp", ICMPType: "destination-unreachable", Dst: p.Request.Src}
	if p.Family == 6 {
		pkt.Proto, pkt.ICMPType = "ipv6-icmp", "packet-too-big"
	}
	h := p.Path[hop]
	if l := linkOf(f.State(h.Namespace), h.In); l != nil {
		for _, a := range l.Addresses {
			if a.Addr().Is4() == (p.Family == 4) && !a.Addr().IsLinkLocalUnicast() {
				pkt.Src = a.Addr()
				break
			}
		}
	}
	if !pkt.Src.IsValid() {
		pkt.Src = netip.IPv4Unspecified()
	}
	return pkt
}

// tooBigCulprits are the rules that drop the error on its way from the
// hop at index hop back to the sender: in the hop's output, in the
// namespaces between, in the sender's input.
func tooBigCulprits(f *facts.Facts, path []facts.Hop, hop int, pkt facts.Packet) []facts.Rule {
	h := path[hop]
	if rs := culprits(f, h.Namespace, facts.RoleSource, pkt, at{out: h.In}); len(rs) > 0 {
		return rs
	}
	for j := hop - 1; j > 0; j-- {
		m := path[j]
		if rs := culprits(f, m.Namespace, m.Role, pkt, at{in: m.Out, out: m.In}); len(rs) > 0 {
			return rs
		}
	}
	return culprits(f, path[0].Namespace, facts.RoleDestination, pkt, at{in: path[0].Out})
}
