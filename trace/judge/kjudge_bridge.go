package judge

import (
	"fmt"
	"slices"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// Bridges on a probe's ways (issue 19): the device, its ports' STP state
// and isolation, static FDB entries, learning and flooding.

// bridgeFault finds a bridge on p's ways that forwards nothing between
// the ports the path crosses: the bridge down, a port not in STP state
// forwarding, both ports isolated, or a static FDB entry sending the next
// hop's MAC out of another port.
func bridgeFault(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	for _, path := range legs(p) {
		for i := range path {
			if bv, ok := bridgeHopFault(f, p, v, path, i); ok {
				if i > 0 {
					// The hop before asked for a neighbour behind the
					// bridge, never heard back, and drops what it queued.
					bv.blamed.neighborOf = path[i-1].Namespace
				}
				return bv, true
			}
		}
	}
	return v, false
}

// bridgeHopFault judges path[i] when it is a bridge.
func bridgeHopFault(f *facts.Facts, p facts.ProbeFacts, v Verdict, path []facts.Hop, i int) (Verdict, bool) {
	h := path[i]
	b := f.KernelIn(h.Namespace).BridgeOf(h.In)
	if h.Role != facts.RoleBridge || b == nil {
		return v, false
	}
	if !b.Up {
		return kernelVerdict(p, v, facts.CauseLinkDown, h.Namespace,
			fmt.Sprintf("bridge %s in %s is down: it forwards nothing between its ports", b.Name, h.Namespace),
			cmdline.IP(h.Namespace, "link", "set", "dev", b.Name, "up").String()), true
	}
	if bv, ok := portFault(p, v, h, b); ok {
		return bv, true
	}
	if i+1 < len(path) {
		if bv, ok := fdbFault(f, p, v, h, b, path[i+1]); ok {
			return bv, true
		}
	}
	return floodFault(f, p, v, path, i, b)
}

// floodFault is a port of path[i]'s bridge with learning and
// unknown-unicast flooding both off, and no FDB entry for the MAC of the
// interface behind it: the bridge never learns where that MAC is, and
// sends a frame for it to no port (br_flood skips ports without
// BR_FLOOD). Either side of the hop: the answers cross it the other way.
// The fix turns both on: learning alone waits for a frame from behind
// the port, which may not come before the next probe.
func floodFault(f *facts.Facts, p facts.ProbeFacts, v Verdict, path []facts.Hop, i int, b *nsstate.Bridge) (Verdict, bool) {
	h := path[i]
	for _, side := range []struct {
		port string
		peer facts.Hop // the hop behind the port
		ok   bool
	}{{h.Out, hopAt(path, i+1), i+1 < len(path)}, {h.In, hopAt(path, i-1), i > 0}} {
		port := b.Port(side.port)
		if !side.ok || port == nil || port.Learning || port.Flood {
			continue
		}
		iface := side.peer.In
		if side.port == h.In {
			iface = side.peer.Out
		}
		st := f.State(side.peer.Namespace)
		if st == nil || st.Link(iface) == nil || st.Link(iface).MAC == "" {
			continue
		}
		mac := st.Link(iface).MAC
		if slices.ContainsFunc(f.KernelIn(h.Namespace).FDB, func(e nsstate.BridgeFDBEntry) bool { return e.MAC == mac && e.Bridge == b.Name }) {
			continue
		}
		return kernelVerdict(p, v, facts.CauseDropped, h.Namespace,
			fmt.Sprintf("port %s of bridge %s in %s has learning and flooding off, and the bridge has no FDB entry for %s (%s's %s): it never learns that MAC is behind %s, and floods no frame for it there", side.port, b.Name, h.Namespace, mac, side.peer.Namespace, iface, side.port),
			cmdline.InNamespace(h.Namespace, "bridge", "link", "set", "dev", side.port, "learning", "on", "flood", "on").String()), true
	}
	return v, false
}

// hopAt is path[i], or the zero hop outside the path.
func hopAt(path []facts.Hop, i int) facts.Hop {
	if i < 0 || i >= len(path) {
		return facts.Hop{}
	}
	return path[i]
}

// portFault is a port of h's bridge, up with a carrier, that is not
// forwarding, or the two ports both isolated.
func portFault(p facts.ProbeFacts, v Verdict, h facts.Hop, b *nsstate.Bridge) (Verdict, bool) {
	in, out := b.Port(h.In), b.Port(h.Out)
	for _, port := range []*nsstate.BridgePort{in, out} {
		if port == nil || !port.Up || !port.Carrier || port.State == nsstate.PortForwarding {
			continue
		}
		fix := cmdline.Join(cmdline.InNamespace(h.Namespace, "bridge", "link", "set", "dev", port.Name, "state", "3"))
		why := ""
		if b.STP != 0 {
			// The kernel's STP owns port states; it refuses a state set by hand.
			fix = cmdline.Join(cmdline.IP(h.Namespace, "link", "set", "dev", b.Name, "type", "bridge", "stp_state", "0"),
				cmdline.InNamespace(h.Namespace, "bridge", "link", "set", "dev", port.Name, "state", "3"))
			why = fmt.Sprintf(" (STP is on in %s)", b.Name)
		}
		return kernelVerdict(p, v, facts.CauseDropped, h.Namespace,
			fmt.Sprintf("port %s of bridge %s in %s is in STP state %s%s: it forwards no frame until it is forwarding", port.Name, b.Name, h.Namespace, port.State, why), fix), true
	}
	if in != nil && out != nil && in.Isolated && out.Isolated {
		pair := []string{in.Name, out.Name}
		slices.Sort(pair)
		return kernelVerdict(p, v, facts.CauseDropped, h.Namespace,
			fmt.Sprintf("ports %s and %s of bridge %s in %s are both isolated: the bridge forwards nothing between isolated ports", pair[0], pair[1], b.Name, h.Namespace),
			cmdline.InNamespace(h.Namespace, "bridge", "link", "set", "dev", out.Name, "isolated", "off").String()), true
	}
	return v, false
}

// fdbFault is a static FDB entry of h's bridge that sends the MAC of the
// next hop's interface out of a port other than the path's.
func fdbFault(f *facts.Facts, p facts.ProbeFacts, v Verdict, h facts.Hop, b *nsstate.Bridge, next facts.Hop) (Verdict, bool) {
	st := f.State(next.Namespace)
	if st == nil || h.Out == "" {
		return v, false
	}
	l := st.Link(next.In)
	if l == nil || l.MAC == "" {
		return v, false
	}
	for _, e := range f.KernelIn(h.Namespace).FDB {
		if e.MAC != l.MAC || e.Bridge != b.Name || e.State != "static" || e.Port == h.Out {
			continue
		}
		learning := ""
		if out := b.Port(h.Out); out != nil && !out.Learning {
			learning = fmt.Sprintf(", and learning is off on %s", h.Out)
		}
		return kernelVerdict(p, v, facts.CauseDropped, h.Namespace,
			fmt.Sprintf("bridge %s in %s has a static FDB entry sending %s (%s's %s) out of port %s, not %s%s", b.Name, h.Namespace, e.MAC, next.Namespace, next.In, e.Port, h.Out, learning),
			cmdline.InNamespace(h.Namespace, "bridge", "fdb", "replace", e.MAC, "dev", h.Out, "master", "static").String()), true
	}
	return v, false
}

// bridgeNetfilter: with br_netfilter (bridge-nf-call-iptables=1), bridged
// IPv4 frames (IPv6 with ip6tables) pass the ip family's prerouting,
// forward and postrouting hooks of the bridge's namespace, the bridge as
// their in and out interface: a rule there that drops them is named.
func bridgeNetfilter(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if v.Cause != facts.CauseDropped || v.Fix != "" {
		return v, false
	}
	for li, path := range legs(p) {
		pkt := p.Request
		if li == 1 {
			pkt = p.Answer
		}
		for _, h := range path {
			ks := f.KernelIn(h.Namespace)
			b := ks.BridgeOf(h.In)
			if h.Role != facts.RoleBridge || h.Namespace != v.Namespace || b == nil || ks.Settings == nil || ks.Settings.BridgeNF == nil {
				continue
			}
			key, on := "net.bridge.bridge-nf-call-iptables", ks.Settings.BridgeNF.CallIPTables == 1
			if p.Family == 6 {
				key, on = "net.bridge.bridge-nf-call-ip6tables", ks.Settings.BridgeNF.CallIP6Tables == 1
			}
			rs := culprits(f, h.Namespace, facts.RoleRouter, pkt, at{in: b.Name, out: b.Name, isNew: li == 0})
			if !on || len(rs) == 0 {
				continue
			}
			rv := ruleVerdict(rs)
			return kernelVerdictBlaming(p, v, rv, fmt.Sprintf("%s=1 in %s, so frames bridged by %s pass its IP hooks: %s", key, h.Namespace, b.Name, rv.Detail)), true
		}
	}
	return v, false
}
