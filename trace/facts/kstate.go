package facts

import (
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/topology/nsstate"
)

// KernelFacts are the kernel's own decisions on the path (issue 19), read
// after the probes from every namespace of the paths: the sysctls that
// decide forwarding and answering, bridge ports and their forwarding
// databases, IPv6 address flags, neighbour entries as the probes left
// them, the listeners of the probed port, and policy-routing lookups.
// Judge reads them as it reads the rest of Facts.
type KernelFacts struct {
	States []KernelState `json:"states"`
}

// KernelState is one namespace's share of KernelFacts.
type KernelState struct {
	Namespace string                   `json:"namespace"`
	Settings  *nsstate.Settings        `json:"settings,omitempty"`
	Bridges   []nsstate.Bridge         `json:"bridges,omitempty"`
	FDB       []nsstate.BridgeFDBEntry `json:"fdb,omitempty"`
	Addresses []nsstate.AddrState      `json:"addresses,omitempty"`
	Neighbors []nsstate.NeighborEntry  `json:"neighbors,omitempty"`
	// Listeners are the TCP sockets listening on the probed port, wherever
	// bound: read in the namespaces probes were sent to.
	Listeners []nsstate.Listener `json:"listeners,omitempty"`
	Lookups   []RuleLookup       `json:"rule_lookups,omitempty"`
}

// RuleLookup is a route lookup with the policy rule that chose its table,
// and what was asked.
type RuleLookup struct {
	Dst netip.Addr `json:"dst"`
	Src netip.Addr `json:"src,omitzero"`
	Iif string     `json:"iif,omitempty"`
	nsstate.Lookup
	// Matched is the route that answered, as the kernel's FIB holds it
	// (`ip route get ... fibmatch`): its prefix, for a fix that deletes
	// or replaces that very route.
	Matched *MatchedRoute `json:"matched,omitempty"`
}

// MatchedRoute is a route of a table as `ip route` lists it.
type MatchedRoute struct {
	Dst     netip.Prefix `json:"dst"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	Dev     string       `json:"dev,omitempty"`
	Table   uint32       `json:"table"`
}

// KernelIn is the kernel facts of ns, or nil.
func (f *Facts) KernelIn(ns string) *KernelState {
	if f.Kernel == nil {
		return nil
	}
	for i := range f.Kernel.States {
		if f.Kernel.States[i].Namespace == ns {
			return &f.Kernel.States[i]
		}
	}
	return nil
}

// LookupFor is the recorded policy-aware lookup in ns for dst (with iif),
// or nil.
func (ks *KernelState) LookupFor(dst netip.Addr, iif string) *RuleLookup {
	if ks == nil {
		return nil
	}
	for i := range ks.Lookups {
		if l := &ks.Lookups[i]; l.Dst == dst && l.Iif == iif {
			return l
		}
	}
	return nil
}

// BridgeOf is the bridge whose port (or which itself) is iface, or nil.
func (ks *KernelState) BridgeOf(iface string) *nsstate.Bridge {
	if ks == nil {
		return nil
	}
	for i := range ks.Bridges {
		b := &ks.Bridges[i]
		if b.Name == iface || b.Port(iface) != nil {
			return b
		}
	}
	return nil
}

// check refuses kernel facts larger than a trace gathers (see
// Facts.check): a stored file may say anything.
func (kf *KernelFacts) check() error {
	if kf == nil {
		return nil
	}
	if len(kf.States) > maxStates {
		return fmt.Errorf("kernel state of %d namespaces, more than %d", len(kf.States), maxStates)
	}
	for _, ks := range kf.States {
		ports := 0
		for _, b := range ks.Bridges {
			ports += len(b.Ports)
		}
		n := len(ks.Neighbors) + len(ks.FDB) + len(ks.Addresses) + len(ks.Listeners) + len(ks.Lookups) + len(ks.Bridges) + ports
		if ks.Settings != nil {
			n += len(ks.Settings.Interfaces)
		}
		if n > maxEntries {
			return fmt.Errorf("kernel state of namespace %q: more than %d entries", clip(ks.Namespace), maxEntries)
		}
	}
	return nil
}
