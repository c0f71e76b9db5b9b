package trace

import (
	"net"
	"net/netip"
	"slices"

	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// After the probes, gathering reads the two ends again and the namespaces
// where an address conflict's impostor may sit. It read every namespace
// behind the ends' veth peers and bridge ports: on a Docker host's bridge,
// every container. An address-conflict verdict (judge's conflictOf) needs
// only the namespace holding the MAC an end's neighbour entry gives for
// the other end's address, when that MAC is not the other end's: the
// bridge's FDB, read now that the probes' own ARP and ND refreshed it,
// says which port that MAC is behind. Every neighbour is still read when a
// probe failed (the kernel-state verdicts look for the holders of
// gateways and of dadfailed addresses there) or when a MAC cannot be
// placed.

// afterStates reads the two ends now, then the namespaces an impostor may
// be in (suspects; every neighbour when everyNeighbour is set or a
// suspect cannot be placed); an end it cannot read is a gap. addrs are
// the trace's addresses of both ends.
func afterStates(w *liveWorld, a, b string, everyNeighbour bool, addrs []netip.Addr) ([]*nsstate.NamespaceState, []facts.Gap) {
	var out []*nsstate.NamespaceState
	var gaps []facts.Gap
	for _, ns := range []string{a, b} {
		st, err := w.ts.GatherState(ns)
		if err != nil {
			gaps = append(gaps, facts.Gap{What: facts.GapLinkState, Namespace: ns, Error: err.Error()})
			continue
		}
		out = append(out, st)
	}
	if len(out) < 2 {
		return out, gaps
	}
	if !everyNeighbour {
		if more, ok := suspects(w, out[0], out[1], addrs); ok {
			return append(out, more...), gaps
		}
	}
	return append(out, neighbours(w.ts, out...)...), gaps
}

// suspects are the namespaces, read now, holding a MAC that an end's
// resolved neighbour entry gives for one of addrs while neither end has
// that MAC. ok is false when such a MAC could not be placed.
func suspects(w *liveWorld, x, y *nsstate.NamespaceState, addrs []netip.Addr) (out []*nsstate.NamespaceState, ok bool) {
	var placed []string
	for _, asker := range []*nsstate.NamespaceState{x, y} {
		for _, n := range asker.Neighbors {
			if n.MAC == "" || n.State.Unresolved() || !slices.Contains(addrs, n.Addr) ||
				hasMAC(x, n.MAC) || hasMAC(y, n.MAC) || slices.Contains(placed, n.MAC) {
				continue
			}
			holder := macHolder(w, asker, n.Dev, n.MAC)
			if holder == "" {
				return nil, false
			}
			placed = append(placed, n.MAC)
			if holder == x.Name || holder == y.Name || slices.ContainsFunc(out, func(s *nsstate.NamespaceState) bool { return s.Name == holder }) {
				continue
			}
			st, err := w.ts.GatherState(holder)
			if err != nil {
				return nil, false
			}
			out = append(out, st)
		}
	}
	return out, true
}

// macHolder is the namespace holding mac that frames sent by st on dev
// reach: dev's veth peer, or, through the bridges beyond it (two at most),
// the peer of the port the bridge's FDB has the MAC behind. "" when no
// namespace is found.
func macHolder(w *liveWorld, st *nsstate.NamespaceState, dev, mac string) string {
	for range 3 {
		l := st.Link(dev)
		if l == nil || l.Peer == nil || l.Peer.Namespace == "" {
			return ""
		}
		pst := w.State(l.Peer.Namespace) // links and peers: as before the probes
		if pst == nil {
			return ""
		}
		if hasMAC(pst, mac) {
			return pst.Name
		}
		pl := pst.Link(l.Peer.Interface)
		if pl == nil || pl.Master == "" {
			return ""
		}
		port := fdbPort(w.ts, pst.Name, pl.Master, mac)
		if port == "" || port == pl.Name {
			return ""
		}
		st, dev = pst, port
	}
	return ""
}

// fdbPort is the port of bridge in ns that the bridge's FDB has mac
// behind now, or "".
func fdbPort(ts *topology.Targets, ns, bridge, mac string) string {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return ""
	}
	h, err := ts.OpenNamespace(ns)
	if err != nil {
		return ""
	}
	defer h.Close()
	entries, err := topology.FDB(topology.Held{Handle: h, Name: ns}, hw)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if e.Bridge == bridge && e.Port != bridge && e.Port != "" {
			return e.Port
		}
	}
	return ""
}

func hasMAC(st *nsstate.NamespaceState, mac string) bool {
	return slices.ContainsFunc(st.Links, func(l nsstate.LinkState) bool { return l.MAC == mac })
}
