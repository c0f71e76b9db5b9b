package facts

// Causes, as DESIGN.md names them.
const (
	CauseOK            = "ok"
	CauseNoRoute       = "no-route"
	CauseNoReturnRoute = "no-return-route"
	CauseLinkDown      = "link-down"
	CauseNeighbor      = "neighbor-unreachable"
	CausePortClosed    = "port-closed"
	CauseDropped       = "dropped"
	CauseWrongRoute    = "wrong-route"
	CauseRejected      = "rejected"
	CauseMTU           = "mtu"
	CauseConflict      = "address-conflict"
)

// CauseLoop: the packet goes round namespaces whose routes send it back
// where it was, until its TTL (hop limit) runs out (DESIGN.md round 3).
const CauseLoop = "loop"

// CauseNAT: a translation makes the flow unanswerable (a DNAT to an
// address no namespace holds, an SNAT to an address the translating
// namespace does not hold).
const CauseNAT = "nat"

// Probe kinds beside the echo probe's ("icmp").

// KindMTU is the probe of echo requests as large as the sender's
// interface allows, with DF: what a bulk transfer sends.
const KindMTU = "mtu"

// KindTCP is the TCP connect probe's kind.
const KindTCP = "tcp"
