package netfilter

import "fmt"

// NFT_MSG_TRACE's numbers (linux/netfilter/nf_tables.h), here so that the
// decoding builds on every platform.
const (
	nftaTraceTable           = 1
	nftaTraceChain           = 2
	nftaTraceRuleHandle      = 3
	nftaTraceType            = 4
	nftaTraceVerdict         = 5
	nftaTraceID              = 6
	nftaTraceNetworkHeader   = 8
	nftaTraceTransportHeader = 9
	nftaTraceIIF             = 10
	nftaTraceOIF             = 12
	nftaTraceMark            = 14
	nftaTraceNFProto         = 15
	nftaTracePolicy          = 16
	nftaVerdictCode          = 1
	nftaVerdictChain         = 2
	nftContinue              = -1
	nftBreak                 = -2
	nftJump                  = -3
	nftGoto                  = -4
	nftReturn                = -5
)

// EventType is what a trace event reports (NFT_TRACETYPE_*).
type EventType uint8

const (
	EventPolicy EventType = 1 // NFT_TRACETYPE_POLICY: a base chain ended, its policy applied
	EventReturn EventType = 2 // NFT_TRACETYPE_RETURN: a non-base chain ended without a verdict
	EventRule   EventType = 3 // NFT_TRACETYPE_RULE: a rule matched; Verdict is its verdict
)

func (t EventType) String() string {
	switch t {
	case EventRule:
		return "rule"
	case EventReturn:
		return "return"
	case EventPolicy:
		return "policy"
	}
	return fmt.Sprintf("type-%d", uint8(t))
}

// VerdictKind is a netfilter or nftables verdict.
type VerdictKind uint8

const (
	VerdictNone VerdictKind = iota
	VerdictAccept
	VerdictDrop
	VerdictQueue
	VerdictStolen
	VerdictRepeat
	VerdictContinue
	VerdictBreak
	VerdictJump
	VerdictGoto
	VerdictReturn
)

var verdictWords = [...]string{"", "accept", "drop", "queue", "stolen", "repeat", "continue", "break", "jump", "goto", "return"}

// String is the verdict as nft writes it.
func (k VerdictKind) String() string {
	if int(k) < len(verdictWords) {
		return verdictWords[k]
	}
	return fmt.Sprintf("verdict-%d", uint8(k))
}

func (k VerdictKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k *VerdictKind) UnmarshalText(b []byte) error {
	for i, w := range verdictWords {
		if w == string(b) {
			*k = VerdictKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// Terminal says whether the verdict ends the packet's walk through a base
// chain (accept moves it on to the next hook; the others end it here).
func (k VerdictKind) Terminal() bool {
	switch k {
	case VerdictAccept, VerdictDrop, VerdictQueue, VerdictStolen, VerdictRepeat:
		return true
	}
	return false
}

// Verdict is a decoded NFTA_VERDICT (or a chain policy).
type Verdict struct {
	Kind  VerdictKind `json:"kind"`
	Chain string      `json:"chain,omitempty"` // jump and goto
	Queue uint16      `json:"queue,omitempty"` // queue: the queue number
	Code  int32       `json:"code"`            // the kernel's number, as sent
}

func (v Verdict) String() string {
	switch v.Kind {
	case VerdictJump, VerdictGoto:
		return v.Kind.String() + " " + v.Chain
	case VerdictQueue:
		return fmt.Sprintf("queue to %d", v.Queue)
	}
	return v.Kind.String()
}

// verdictOf decodes a verdict code as nf_tables sends it: netfilter's
// (NF_DROP..NF_REPEAT, with a queue number or errno in the upper bits) or
// nftables' own negative ones.
func verdictOf(code int32, chain string) Verdict {
	v := Verdict{Code: code, Chain: chain}
	switch code {
	case nftContinue:
		v.Kind = VerdictContinue
	case nftBreak:
		v.Kind = VerdictBreak
	case nftJump:
		v.Kind = VerdictJump
	case nftGoto:
		v.Kind = VerdictGoto
	case nftReturn:
		v.Kind = VerdictReturn
	default:
		switch uint32(code) & 0xff {
		case nfDrop:
			v.Kind = VerdictDrop
		case nfAccept:
			v.Kind = VerdictAccept
		case 2:
			v.Kind = VerdictStolen
		case 3:
			v.Kind = VerdictQueue
			v.Queue = uint16(uint32(code) >> 16)
		case 4:
			v.Kind = VerdictRepeat
		}
	}
	return v
}

// Event is one NFT_MSG_TRACE event: one step of one packet through the
// rules of one namespace.
type Event struct {
	// ID groups one packet's events (the kernel's, per sk_buff; it may be
	// given again to a later packet, see Packets).
	ID      uint32    `json:"id"`
	Family  Family    `json:"family"`  // the table's
	NFProto Family    `json:"nfproto"` // the packet's: ip or ip6 in an inet table
	Table   string    `json:"table"`
	Chain   string    `json:"chain"`
	Handle  uint64    `json:"handle,omitempty"` // the rule; 0 on policy events
	Type    EventType `json:"type"`
	Verdict Verdict   `json:"verdict"`       // the rule's, or the policy on policy events
	IIF     uint32    `json:"iif,omitempty"` // interface indexes in the namespace
	OIF     uint32    `json:"oif,omitempty"`
	Mark    uint32    `json:"mark,omitempty"`
	// Packet is the packet as the event showed it; only the first event of a
	// packet in a base chain carries headers (Valid false on the others).
	Packet Header `json:"packet"`
}

// MarshalText keeps the type readable in JSON.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

func (t *EventType) UnmarshalText(b []byte) error {
	for _, c := range []EventType{EventRule, EventReturn, EventPolicy} {
		if c.String() == string(b) {
			*t = c
			return nil
		}
	}
	return fmt.Errorf("unknown trace event type %q", b)
}

// ParseEvent decodes one NFT_MSG_TRACE message payload (after the netlink
// header: nfgenmsg and attributes). Every length is checked; hostile input
// gives an error, never a panic.
func ParseEvent(payload []byte) (Event, error) {
	fam, attrs, err := nfgen(payload)
	if err != nil {
		return Event{}, fmt.Errorf("trace event: %w", err)
	}
	ev := Event{Family: Family(fam)}
	var nh, th []byte
	for _, a := range attrs {
		if err := ev.set(a, &nh, &th); err != nil {
			return Event{}, fmt.Errorf("trace event: %w", err)
		}
	}
	if nh != nil {
		ev.Packet = parseHeader(nh, th)
	}
	return ev, nil
}

func (ev *Event) set(a attr, nh, th *[]byte) error {
	var err error
	switch a.Type {
	case nftaTraceID:
		ev.ID, err = a.be32()
	case nftaTraceTable:
		ev.Table = a.str()
	case nftaTraceChain:
		ev.Chain = a.str()
	case nftaTraceRuleHandle:
		ev.Handle, err = a.be64()
	case nftaTraceType:
		var t uint32
		t, err = a.be32()
		ev.Type = EventType(t)
	case nftaTraceVerdict:
		ev.Verdict, err = parseVerdict(a.Data)
	case nftaTracePolicy:
		var p uint32
		p, err = a.be32()
		ev.Verdict = verdictOf(int32(p), "")
	case nftaTraceIIF:
		ev.IIF, err = a.be32()
	case nftaTraceOIF:
		ev.OIF, err = a.be32()
	case nftaTraceMark:
		ev.Mark, err = a.be32()
	case nftaTraceNFProto:
		var p uint32
		p, err = a.be32()
		ev.NFProto = Family(p)
	case nftaTraceNetworkHeader:
		*nh = a.Data
	case nftaTraceTransportHeader:
		*th = a.Data
	}
	return err
}

func parseVerdict(b []byte) (Verdict, error) {
	attrs, err := parseAttrs(b)
	if err != nil {
		return Verdict{}, fmt.Errorf("verdict: %w", err)
	}
	var code int32
	var chain string
	seen := false
	for _, a := range attrs {
		switch a.Type {
		case nftaVerdictCode:
			c, err := a.be32()
			if err != nil {
				return Verdict{}, fmt.Errorf("verdict: %w", err)
			}
			code, seen = int32(c), true
		case nftaVerdictChain:
			chain = a.str()
		}
	}
	if !seen {
		return Verdict{}, fmt.Errorf("verdict without a code")
	}
	return verdictOf(code, chain), nil
}
