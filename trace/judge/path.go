package judge

import (
	"net/netip"
	"slices"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// World is the kernel state a path is discovered from: namespaces' links
// and tables, and their route lookups. Live, it asks the kernel; in tests,
// recorded facts.
type World interface {
	State(ns string) *nsstate.NamespaceState // nil when the namespace cannot be read
	Route(ns string, dst, from netip.Addr, iif string) facts.Lookup
}

// Walk follows a packet from src to dst through the namespaces' route
// lookups, veth peers and bridges, and returns its hops and the lookups it
// made. from is the packet's source address. cut says the path goes on
// past facts.MaxHops namespaces: the last hop's out leads to one not followed.
func Walk(w World, src string, from, dst netip.Addr) (hops []facts.Hop, lookups []facts.Lookup, cut bool) {
	return WalkNAT(w, src, from, dst, nil)
}

// WalkNAT is Walk through the destination rewrites conntrack showed for
// the packet's flow (dnat: Translations whose From is a destination): in
// the namespace that rewrote dst, the route lookups there and beyond are
// asked for the new destination, and the path goes on to whoever holds it
// (a published port leads into the container behind it). That hop's
// DNATTo says where to. Which rule rewrites what is the kernel's word,
// never matched here.
func WalkNAT(w World, src string, from, dst netip.Addr, dnat []Translation) (hops []facts.Hop, lookups []facts.Lookup, cut bool) {
	st := w.State(src)
	if st == nil {
		return nil, nil, false
	}
	hops = []facts.Hop{{Namespace: st.Name, Inode: st.Inode, Container: st.Container, Role: facts.RoleSource}}
	dst = rewrite(&hops[0], dnat, dst) // a DNAT in the output hook
	cur, iif := st, ""
	for {
		lk := w.Route(cur.Name, dst, from, iif)
		lookups = append(lookups, lk)
		if !lk.OK && iif != "" {
			// The lookup a forwarded packet gets failed (forwarding off, no
			// route, rp_filter): the path goes on where the namespace's own
			// packets would, so that every hop can be shown and blamed.
			lk = w.Route(cur.Name, dst, netip.Addr{}, "")
			lookups = append(lookups, lk)
		}
		if !lk.OK || lk.Dev == "" || lk.Type == "local" {
			return hops, lookups, false
		}
		hops[len(hops)-1].Out = lk.Dev
		nh := dst
		if lk.Gateway.IsValid() {
			nh = lk.Gateway
		}
		bridges, next, in := cross(w, cur, lk.Dev, nh)
		for _, b := range bridges {
			if len(hops) == facts.MaxHops {
				return hops, lookups, true
			}
			hops = append(hops, b)
		}
		// Only a namespace that has the next hop's address takes the packet
		// in at layer 3: past a link where nobody does, the path ends.
		if next == nil || visited(hops, next.Inode) || !owns(next, nh) {
			return hops, lookups, false
		}
		if len(hops) == facts.MaxHops {
			return hops, lookups, true
		}
		hop := facts.Hop{Namespace: next.Name, Inode: next.Inode, Container: next.Container, In: in, Role: facts.RoleRouter}
		dst = rewrite(&hop, dnat, dst) // in the prerouting hook, before its lookup
		if owns(next, dst) {
			hop.Role = facts.RoleDestination
		}
		hops = append(hops, hop)
		if hop.Role == facts.RoleDestination {
			return hops, lookups, false
		}
		cur, iif = next, in
	}
}

// rewrite is dst as a DNAT of dnat in h's namespace left it, noted on h.
func rewrite(h *facts.Hop, dnat []Translation, dst netip.Addr) netip.Addr {
	for _, t := range dnat {
		if t.Kind != NATSource && t.Namespace == h.Namespace && t.From.Addr() == dst && t.To.Addr() != dst {
			h.DNATTo = t.To
			return t.To.Addr()
		}
	}
	return dst
}

func visited(hops []facts.Hop, inode uint64) bool {
	return slices.ContainsFunc(hops, func(h facts.Hop) bool { return h.Inode == inode && h.Role != facts.RoleBridge })
}

// cross follows a packet that leaves namespace st by dev toward the next
// hop nh: over a veth to its peer, through every bridge on the way (by
// the bridge's FDB entry for nh's MAC, else to the port that leads to nh).
// It returns the bridges crossed and the namespace and interface it enters.
func cross(w World, st *nsstate.NamespaceState, dev string, nh netip.Addr) ([]facts.Hop, *nsstate.NamespaceState, string) {
	l := st.Link(dev)
	if l == nil {
		return nil, nil, ""
	}
	mac := st.NeighborMAC(dev, nh)
	if l.Kind == "bridge" {
		if l = st.Link(choosePort(w, st, l.Name, "", nh, mac)); l == nil {
			return nil, nil, ""
		}
	}
	var bridges []facts.Hop
	for range facts.MaxHops {
		if l.Peer == nil || l.Peer.Namespace == "" {
			return bridges, nil, ""
		}
		pst := w.State(l.Peer.Namespace)
		if pst == nil {
			return bridges, nil, ""
		}
		pl := pst.Link(l.Peer.Interface)
		if pl == nil {
			return bridges, nil, ""
		}
		if pl.Master == "" {
			return bridges, pst, pl.Name
		}
		if owns(pst, nh) {
			return bridges, pst, pl.Master // the bridge device is where its own packets enter
		}
		port := choosePort(w, pst, pl.Master, pl.Name, nh, mac)
		bridges = append(bridges, facts.Hop{Namespace: pst.Name, Inode: pst.Inode, Container: pst.Container, In: pl.Name, Out: port, Role: facts.RoleBridge})
		if l = pst.Link(port); l == nil {
			return bridges, nil, ""
		}
	}
	return bridges, nil, ""
}

// choosePort picks the port of bridge (other than in) a frame for nh
// leaves by: the FDB's port for nh's MAC, else the port whose veth peer
// (or a bridge behind it) holds nh.
func choosePort(w World, st *nsstate.NamespaceState, bridge, in string, nh netip.Addr, mac string) string {
	var ports []string
	for _, l := range st.Links {
		if l.Master == bridge && l.Name != in {
			ports = append(ports, l.Name)
		}
	}
	if mac != "" {
		for _, e := range st.FDB {
			if e.Bridge == bridge && e.MAC == mac && slices.Contains(ports, e.Port) {
				return e.Port
			}
		}
	}
	for depth := 0; depth < 2; depth++ {
		for _, p := range ports {
			if leadsTo(w, st.Link(p), nh, depth) {
				return p
			}
		}
	}
	return ""
}

// leadsTo reports whether the veth l's peer holds nh (depth 0) or is a
// port of a bridge one of whose other ports' peers holds it (depth 1).
func leadsTo(w World, l *nsstate.LinkState, nh netip.Addr, depth int) bool {
	if l == nil || l.Peer == nil || l.Peer.Namespace == "" {
		return false
	}
	pst := w.State(l.Peer.Namespace)
	if pst == nil {
		return false
	}
	if owns(pst, nh) {
		return true
	}
	pl := pst.Link(l.Peer.Interface)
	if depth == 0 || pl == nil || pl.Master == "" {
		return false
	}
	for _, o := range pst.Links {
		if o.Master == pl.Master && o.Name != pl.Name && leadsTo(w, &o, nh, 0) {
			return true
		}
	}
	return false
}

func owns(st *nsstate.NamespaceState, a netip.Addr) bool { return st.Owns(a) }
