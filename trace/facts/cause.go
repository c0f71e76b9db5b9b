package facts

// Cause is what a verdict blames, as DESIGN.md names it: its text is the
// name, in JSON and on the verdict line. A cause a later nsdump names is
// read as written (a -w file of a later version is judged as far as this
// one understands it).
type Cause string

// Causes, as DESIGN.md names them.
const (
	CauseOK            Cause = "ok"
	CauseNoRoute       Cause = "no-route"
	CauseNoReturnRoute Cause = "no-return-route"
	CauseLinkDown      Cause = "link-down"
	CauseNeighbor      Cause = "neighbor-unreachable"
	CausePortClosed    Cause = "port-closed"
	CauseDropped       Cause = "dropped"
	CauseWrongRoute    Cause = "wrong-route"
	CauseRejected      Cause = "rejected"
	CauseMTU           Cause = "mtu"
	CauseConflict      Cause = "address-conflict"
)

// CauseLoop: the packet goes round namespaces whose routes send it back
// where it was, until its TTL (hop limit) runs out (DESIGN.md round 3).
const CauseLoop Cause = "loop"

// CauseNAT: a translation makes the flow unanswerable (a DNAT to an
// address no namespace holds, an SNAT to an address the translating
// namespace does not hold).
const CauseNAT Cause = "nat"

// MarshalText writes the cause's name.
func (c Cause) MarshalText() ([]byte, error) { return []byte(c), nil }

// UnmarshalText reads a cause's name, any name: see Cause.
func (c *Cause) UnmarshalText(b []byte) error {
	*c = Cause(b)
	return nil
}

// ProbeKind is what a probe sends, as DESIGN.md names it; the echo
// probes' kinds are the exchange kinds of their echoes (decode.KindEcho,
// decode.KindEcho6).
type ProbeKind string

// Probe kinds.
const (
	KindEcho  ProbeKind = "icmp-echo"
	KindEcho6 ProbeKind = "icmp6-echo"
	// KindMTU is the probe of echo requests as large as the sender's
	// interface allows, with DF: what a bulk transfer sends.
	KindMTU ProbeKind = "mtu"
	// KindTCP is the TCP connect probe's kind.
	KindTCP ProbeKind = "tcp"
)

// MarshalText writes the kind's name.
func (k ProbeKind) MarshalText() ([]byte, error) { return []byte(k), nil }

// UnmarshalText reads a kind's name, any name: a stored probe of a kind
// this nsdump does not send is judged as far as it is understood.
func (k *ProbeKind) UnmarshalText(b []byte) error {
	*k = ProbeKind(b)
	return nil
}
