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
)

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
