package facts

import (
	"encoding/json"

	"github.com/nsdump/nsdump/topology/nsstate"
)

// Stored facts hold the kernel state of issue 19 under DESIGN.md's
// top-level keys, each entry naming its namespace: rules_ip, sysctls,
// bridge_ports, fdb, listeners, and beside them addresses (with their
// flags) and neighbors (as the probes left them). Judge reads it grouped
// by namespace (KernelFacts); the grouping is made again on reading, so a
// file's keys and the judgement's view never disagree. Files written
// before the keys moved hold the same state as one "kernel" block of
// states; it is still read, as it was written.

// NamespaceBridge is a bridge with its ports, in its namespace.
type NamespaceBridge struct {
	Namespace string `json:"namespace"`
	nsstate.Bridge
}

// NamespaceFDBEntry is a bridge forwarding database entry, in its namespace.
type NamespaceFDBEntry struct {
	Namespace string `json:"namespace"`
	nsstate.BridgeFDBEntry
}

// NamespaceListener is a socket listening on the probed port, in its namespace.
type NamespaceListener struct {
	Namespace string `json:"namespace"`
	nsstate.Listener
}

// NamespaceAddr is an address with its flags, in its namespace.
type NamespaceAddr struct {
	Namespace string `json:"namespace"`
	nsstate.AddrState
}

// NamespaceNeighbor is a neighbour entry read after the probes, in its namespace.
type NamespaceNeighbor struct {
	Namespace string `json:"namespace"`
	nsstate.NeighborEntry
}

// kernelKeys are the top-level keys the kernel state is stored under.
type kernelKeys struct {
	RulesIP     []RuleLookup        `json:"rules_ip,omitempty"` // each with its namespace
	Sysctls     []*nsstate.Settings `json:"sysctls,omitempty"`  // each with its namespace
	BridgePorts []NamespaceBridge   `json:"bridge_ports,omitempty"`
	FDB         []NamespaceFDBEntry `json:"fdb,omitempty"`
	Listeners   []NamespaceListener `json:"listeners,omitempty"`
	Addresses   []NamespaceAddr     `json:"addresses,omitempty"`
	Neighbors   []NamespaceNeighbor `json:"neighbors,omitempty"`
	Legacy      *KernelFacts        `json:"kernel,omitempty"` // read, never written
}

// MarshalJSON writes the facts with their kernel state under the top-level keys.
func (f Facts) MarshalJSON() ([]byte, error) {
	type plain Facts
	return json.Marshal(struct {
		plain
		kernelKeys
	}{plain(f), flatten(f.Kernel)})
}

// UnmarshalJSON reads the facts, their kernel state from the top-level
// keys or, in a file written before them, from its "kernel" block.
func (f *Facts) UnmarshalJSON(b []byte) error {
	type plain Facts
	w := struct {
		*plain
		kernelKeys
	}{plain: (*plain)(f)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	f.Kernel = w.kernelKeys.group()
	return nil
}

// flatten is kf under the top-level keys.
func flatten(kf *KernelFacts) kernelKeys {
	var k kernelKeys
	if kf == nil {
		return k
	}
	for _, ks := range kf.States {
		ns := ks.Namespace
		if ks.Settings != nil {
			s := *ks.Settings
			s.Namespace = ns
			k.Sysctls = append(k.Sysctls, &s)
		}
		for _, l := range ks.Lookups {
			l.Namespace = ns
			k.RulesIP = append(k.RulesIP, l)
		}
		for _, b := range ks.Bridges {
			k.BridgePorts = append(k.BridgePorts, NamespaceBridge{ns, b})
		}
		for _, e := range ks.FDB {
			k.FDB = append(k.FDB, NamespaceFDBEntry{ns, e})
		}
		for _, l := range ks.Listeners {
			k.Listeners = append(k.Listeners, NamespaceListener{ns, l})
		}
		for _, a := range ks.Addresses {
			k.Addresses = append(k.Addresses, NamespaceAddr{ns, a})
		}
		for _, n := range ks.Neighbors {
			k.Neighbors = append(k.Neighbors, NamespaceNeighbor{ns, n})
		}
	}
	if k.Sysctls == nil && k.RulesIP == nil && k.BridgePorts == nil && k.FDB == nil && k.Listeners == nil && k.Addresses == nil && k.Neighbors == nil {
		// Kernel state read from no namespace is still kernel state read:
		// an empty list keeps it from reading as none at all.
		k.Sysctls = []*nsstate.Settings{}
	}
	return k
}

// group is the kernel state of the keys by namespace, in the order the
// namespaces first appear; the legacy block as it was, when the file has
// one and none of the keys; nil when the file has neither.
func (k kernelKeys) group() *KernelFacts {
	if k.Sysctls == nil && k.RulesIP == nil && k.BridgePorts == nil && k.FDB == nil && k.Listeners == nil && k.Addresses == nil && k.Neighbors == nil {
		return k.Legacy
	}
	kf := &KernelFacts{States: []KernelState{}}
	index := map[string]int{}
	state := func(ns string) *KernelState {
		i, ok := index[ns]
		if !ok {
			i = len(kf.States)
			index[ns] = i
			kf.States = append(kf.States, KernelState{Namespace: ns})
		}
		return &kf.States[i]
	}
	for _, s := range k.Sysctls {
		if s != nil {
			state(s.Namespace).Settings = s
		}
	}
	for _, b := range k.BridgePorts {
		ks := state(b.Namespace)
		ks.Bridges = append(ks.Bridges, b.Bridge)
	}
	for _, e := range k.FDB {
		ks := state(e.Namespace)
		ks.FDB = append(ks.FDB, e.BridgeFDBEntry)
	}
	for _, a := range k.Addresses {
		ks := state(a.Namespace)
		ks.Addresses = append(ks.Addresses, a.AddrState)
	}
	for _, n := range k.Neighbors {
		ks := state(n.Namespace)
		ks.Neighbors = append(ks.Neighbors, n.NeighborEntry)
	}
	for _, l := range k.Listeners {
		ks := state(l.Namespace)
		ks.Listeners = append(ks.Listeners, l.Listener)
	}
	for _, l := range k.RulesIP {
		ks := state(l.Namespace)
		ks.Lookups = append(ks.Lookups, l)
	}
	return kf
}
