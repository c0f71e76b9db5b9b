package nsstate

import "net/netip"

// NeighborCheck compares a neighbour entry's MAC with the MAC of the
// interface that owns its address, among the namespaces given.
type NeighborCheck struct {
	Entry NeighborEntry `json:"entry"`
	// Owner is where the address is configured; empty when no namespace
	// given has it (a gateway nobody owns).
	OwnerNamespace string `json:"owner_namespace,omitempty"`
	OwnerLink      string `json:"owner_link,omitempty"`
	OwnerMAC       string `json:"owner_mac,omitempty"`
	// Wrong: the entry holds a MAC and it is not the owner's.
	Wrong bool `json:"wrong,omitempty"`
}

// CheckNeighbor finds the owner of e's address in states and says whether
// e's MAC is the owner interface's. An unresolved entry (INCOMPLETE,
// FAILED) holds no MAC and is never Wrong.
func CheckNeighbor(e NeighborEntry, states []NamespaceState) NeighborCheck {
	c := NeighborCheck{Entry: e}
	for _, st := range states {
		for _, l := range st.Links {
			if !ownsAddr(l.Addresses, e.Addr) {
				continue
			}
			c.OwnerNamespace, c.OwnerLink, c.OwnerMAC = st.Name, l.Name, l.MAC
			c.Wrong = e.MAC != "" && !e.State.Unresolved() && l.MAC != "" && e.MAC != l.MAC
			return c
		}
	}
	return c
}

func ownsAddr(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Addr() == a.Unmap() {
			return true
		}
	}
	return false
}
