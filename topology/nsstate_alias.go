package topology

import "github.com/nsdump/nsdump/topology/nsstate"

// The gathered state's value types live in nsstate, which the pure
// judgement of a trace imports without the rest of topology.
type (
	NamespaceState = nsstate.NamespaceState
	LinkState      = nsstate.LinkState
	FDBEntry       = nsstate.FDBEntry
	NeighborEntry  = nsstate.NeighborEntry
	BlockingRoute  = nsstate.BlockingRoute
	Peer           = nsstate.Peer
	NeighState     = nsstate.NeighState

	// The kernel state of issue 19 (see docs/kernel-state.md).
	Settings       = nsstate.Settings
	ConfV4         = nsstate.ConfV4
	IfaceSettings  = nsstate.IfaceSettings
	BridgeNF       = nsstate.BridgeNF
	PortState      = nsstate.PortState
	BridgePort     = nsstate.BridgePort
	Bridge         = nsstate.Bridge
	BridgeFDBEntry = nsstate.BridgeFDBEntry
	Listener       = nsstate.Listener
	AddrFlags      = nsstate.AddrFlags
	AddrState      = nsstate.AddrState
	NeighborCheck  = nsstate.NeighborCheck
	PolicyRule     = nsstate.PolicyRule
	Lookup         = nsstate.Lookup
	LookupRoute    = nsstate.LookupRoute
)

// Bridge port STP states.
const (
	PortDisabled   = nsstate.PortDisabled
	PortListening  = nsstate.PortListening
	PortLearning   = nsstate.PortLearning
	PortForwarding = nsstate.PortForwarding
	PortBlocking   = nsstate.PortBlocking
)

// Address flags (IFA_F_*).
const (
	AddrSecondary  = nsstate.AddrSecondary
	AddrNoDAD      = nsstate.AddrNoDAD
	AddrOptimistic = nsstate.AddrOptimistic
	AddrDADFailed  = nsstate.AddrDADFailed
	AddrHome       = nsstate.AddrHome
	AddrDeprecated = nsstate.AddrDeprecated
	AddrTentative  = nsstate.AddrTentative
	AddrPermanent  = nsstate.AddrPermanent
)

// Only describes listeners that do not accept an address (nsstate.Only).
func Only(ls []Listener) string { return nsstate.Only(ls) }

// CheckNeighbor compares a neighbour entry's MAC with its address's owner's
// (nsstate.CheckNeighbor).
func CheckNeighbor(e NeighborEntry, states []NamespaceState) NeighborCheck {
	return nsstate.CheckNeighbor(e, states)
}

// tableWord names a routing table as iproute2's rt_tables does.
func tableWord(t uint32) string { return nsstate.TableWord(t) }

// Neighbour entry states (the kernel's NUD_* bits).
const (
	NeighIncomplete = nsstate.NeighIncomplete
	NeighReachable  = nsstate.NeighReachable
	NeighStale      = nsstate.NeighStale
	NeighDelay      = nsstate.NeighDelay
	NeighProbe      = nsstate.NeighProbe
	NeighFailed     = nsstate.NeighFailed
	NeighNoARP      = nsstate.NeighNoARP
	NeighPermanent  = nsstate.NeighPermanent
)
