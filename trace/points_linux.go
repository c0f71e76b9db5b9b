package trace

import (
	"slices"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/topology/nsstate"
)

// traceRing is the ring of each of a trace's capture points. A trace's
// probes are a few dozen frames a point, none larger than the MTU: 16
// blocks of 128 KiB (capture's shape for 2 MiB) hold them many times over
// and, handed over every blockTimeout however little they hold, last 160
// ms of a reader kept off the CPU, twice what the 8 MiB rings of 1 MiB
// blocks did. 8 MiB a point was 1.6 GiB on a bridge of 200 ports.
const traceRing = 2 << 20

// capturePoints are what a trace captures: every interface of both ends,
// and in each namespace between them every interface but the bridge ports
// the probes cannot use. A Docker host's bridge has a port per container;
// capturing them all (a ring and a socket each) made a trace on a bridge
// of 200 ports take 9 s and 1.6 GiB. The ports kept are those the paths
// name (a hop's in or out, each way, every family: the FDB's port for
// the next hop's MAC, else the one its owner is behind) and those whose
// veth peer is an end or on the path (a bridge whose own device is a
// router's way in). Frames the bridge sends elsewhere (flooded, to an
// impostor) are still seen where they come back: an impostor's answer
// arrives through the sender's port, and gathering finds its namespace
// from the FDB (suspects).
func capturePoints(w *liveWorld, a, b *side, between []string, runs []*run) []capture.Target {
	targets := []capture.Target{{Namespace: a.name}, {Namespace: b.name}}
	for _, ns := range between {
		links, ok := usable(w, a, b, between, runs, ns)
		if !ok {
			targets = append(targets, capture.Target{Namespace: ns})
			continue
		}
		for _, l := range links {
			if l.Name != "lo" {
				targets = append(targets, capture.Target{Namespace: ns, Interface: l.Name, Link: linkInterface(l)})
			}
		}
	}
	return targets
}

// usable are the links of ns, between a and b, but the bridge ports the
// probes cannot use; false when ns could not be read.
func usable(w *liveWorld, a, b *side, between []string, runs []*run, ns string) ([]nsstate.LinkState, bool) {
	st := w.State(ns)
	if st == nil {
		return nil, false
	}
	onPath := append([]string{a.name, b.name}, between...)
	var out []nsstate.LinkState
	for _, l := range st.Links {
		if !bridgePort(st, l) || pathUses(runs, ns, l.Name) || l.Peer != nil && slices.Contains(onPath, l.Peer.Namespace) {
			out = append(out, l)
		}
	}
	return out, true
}

// settingsOf names the interfaces whose sysctls are read in each
// namespace between a and b: the ones captured (the sysctls of a bridge's
// hundreds of ports took longer than the rest of the trace). A namespace
// not named has every interface read.
func settingsOf(w *liveWorld, a, b *side, runs []*run) map[string][]string {
	between := pathNamespaces(a, b, runs)
	out := map[string][]string{}
	for _, ns := range between {
		if links, ok := usable(w, a, b, between, runs, ns); ok {
			for _, l := range links {
				out[ns] = append(out[ns], l.Name)
			}
		}
	}
	return out
}

// bridgePort reports whether l is a port of a bridge of st.
func bridgePort(st *nsstate.NamespaceState, l nsstate.LinkState) bool {
	m := st.Link(l.Master)
	return l.Master != "" && m != nil && m.Kind == "bridge"
}

// pathUses reports whether a path of the runs enters or leaves ns by ifc.
func pathUses(runs []*run, ns, ifc string) bool {
	for _, r := range runs {
		for _, h := range append(slices.Clone(r.path), r.backPath...) {
			if h.Namespace == ns && (h.In == ifc || h.Out == ifc) {
				return true
			}
		}
	}
	return false
}

// linkInterface is l as capture describes a point, so that Open does not
// list the namespace's links again for each point.
func linkInterface(l nsstate.LinkState) *topology.Interface {
	ifc := &topology.Interface{Index: l.Index, Name: l.Name, Kind: l.Kind, MAC: l.MAC, MTU: l.MTU, Up: l.Up, Carrier: l.Carrier,
		Master: l.Master, Peer: l.Peer, Addresses: []string{}}
	for _, p := range l.Addresses {
		ifc.Addresses = append(ifc.Addresses, p.String())
	}
	return ifc
}
