package decode

import (
	"net/netip"
	"slices"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// ExchangeKind is what an exchange is, as DESIGN.md names it.
type ExchangeKind string

// Status is how an exchange ended, as DESIGN.md names it.
type Status string

// Exchange kinds and statuses, as DESIGN.md names them.
const (
	KindEcho      ExchangeKind = "icmp-echo"
	KindEcho6     ExchangeKind = "icmp6-echo"
	KindTCPConn   ExchangeKind = "tcp"
	KindARPRes    ExchangeKind = "arp"
	KindNDP       ExchangeKind = "ndp"
	KindICMPError ExchangeKind = "icmp-error"
	KindUDPFlow   ExchangeKind = "udp" // a datagram and the first one back
	KindDNS       ExchangeKind = "dns" // a UDP exchange with port 53 on one end

	StatusAnswered    Status = "answered"
	StatusUnanswered  Status = "unanswered"
	StatusEstablished Status = "established"
	StatusRefused     Status = "refused"
	StatusError       Status = "error" // an ICMP error came back
)

// MarshalText writes the kind's name.
func (k ExchangeKind) MarshalText() ([]byte, error) { return []byte(k), nil }

// UnmarshalText reads a kind's name as written: a later nsdump's kind
// reads as itself.
func (k *ExchangeKind) UnmarshalText(b []byte) error {
	*k = ExchangeKind(b)
	return nil
}

// MarshalText writes the status's name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s), nil }

// UnmarshalText reads a status's name as written.
func (s *Status) UnmarshalText(b []byte) error {
	*s = Status(b)
	return nil
}

// Kinds lists every exchange kind with the statuses it can end in.
var Kinds = map[ExchangeKind][]Status{
	KindEcho:      {StatusAnswered, StatusUnanswered, StatusError},
	KindEcho6:     {StatusAnswered, StatusUnanswered, StatusError},
	KindTCPConn:   {StatusEstablished, StatusRefused, StatusUnanswered, StatusError},
	KindARPRes:    {StatusAnswered, StatusUnanswered},
	KindNDP:       {StatusAnswered, StatusUnanswered},
	KindICMPError: {StatusError},
	KindUDPFlow:   {StatusAnswered, StatusUnanswered, StatusError},
	KindDNS:       {StatusAnswered, StatusUnanswered, StatusError},
}

// MaxSightings is how many sightings an exchange keeps unless its
// Tracker says otherwise; past it they are only counted (SeenMore), so
// that a long connection costs no more memory than a short one.
const MaxSightings = 16

// Sighting is one place and time a packet of an exchange was seen.
type Sighting struct {
	Point string    `json:"point"`
	Dir   string    `json:"dir"`
	Time  time.Time `json:"time"`
	What  string    `json:"what"`
	// Drop is the kernel's drop when the sighting is on a drop monitor's
	// point, in JSON "NETFILTER_DROP at nft_do_chain (veth1)".
	Drop capture.Drop `json:"drop,omitzero"`
	// Frame is the sighted packet's number in its capture (Packet.Frame).
	Frame int `json:"-"`
	// TCPFlags are a TCP segment's flags (SYN, ACK, RST, ...), 0 for
	// other packets: what a sighting is, without reading What back.
	TCPFlags uint8 `json:"-"`
	// TTL is the IPv4 TTL or IPv6 hop limit the packet had there: one
	// packet seen again at a point with a lower one went round a loop.
	TTL uint8 `json:"-"`
	// PacketID is the packet's id: every sighting of one packet has the
	// same (epb_packetid in the file, Wireshark's frame.packet_id).
	PacketID uint64 `json:"packet_id,omitempty"`
	// Probe is the trace probe a `trace -w` file ties the packet to,
	// "A->B mtu" (its direction and kind), from the packet's comment.
	Probe string `json:"probe,omitempty"`
	// Stray says the drop is of trace's own making, not the path's, as
	// the facts of the trace -w file it was read from record it (read
	// sets it; decode cannot know).
	Stray bool `json:"stray,omitempty"`
}

// TCPAnswer reports whether the sighting is a TCP connect's answer: a
// SYN-ACK, or a reset (refused).
func (s Sighting) TCPAnswer() (answer, reset bool) {
	reset = s.TCPFlags&RST != 0
	return reset || s.TCPFlags&(SYN|ACK) == SYN|ACK, reset
}

// Answer reports whether the sighting is an answer to what the exchange
// sent, seen on the wire: a reply, a SYN-ACK or reset, an ARP or NDP
// answer, or an ICMP error. A kernel's drop is not one: the answer never
// arrived.
func (s Sighting) Answer() bool {
	if !s.Drop.IsZero() {
		return false
	}
	if s.TCPFlags != 0 {
		answer, _ := s.TCPAnswer()
		return answer
	}
	switch s.What {
	case "request", "query", "who-has", "packet", "echo request", "neighbor solicitation", "router solicitation", "multicast listener":
		return false
	}
	return true
}

// TCPConnect reports whether the sighting is a TCP connect's SYN (a
// retransmission too).
func (s Sighting) TCPConnect() bool { return s.TCPFlags&(SYN|ACK|RST) == SYN }

// ICMPErr is an ICMP error that quoted a packet of the exchange.
type ICMPErr struct {
	From string `json:"from"`
	Type uint8  `json:"type"`
	Code uint8  `json:"code"`
	Text string `json:"text"`
}

// Exchange is one request and what answered it. Fields that do not apply
// to a kind stay empty.
type Exchange struct {
	// What finishing and emitting read first, in one cache line (at least
	// when the exchange starts on one): a flood touches each exchange
	// again only when --max-open finishes it, long out of the cache, and
	// then once more when it is emitted.
	last                             int64     // last packet, ns since the epoch: idle expiry and linger
	prev, next                       *Exchange // the open list, least recently active first
	hash                             uint32    // key's in its kind's table (its low bits: where it sits)
	open, finished, tabled, selected bool      // tabled: the entry of key in its kind's table; selected: a packet of it matched the filter

	Kind   ExchangeKind `json:"kind"`
	Status Status       `json:"status"`
	Src    string       `json:"src"` // address, or address:port for TCP
	Dst    string       `json:"dst"`

	SrcAddr netip.Addr `json:"src_addr"`
	SrcPort uint16     `json:"src_port,omitempty"`
	DstAddr netip.Addr `json:"dst_addr"`
	DstPort uint16     `json:"dst_port,omitempty"`

	ID       *uint16  `json:"id,omitempty"`
	Seq      *uint16  `json:"seq,omitempty"`
	RTTms    *float64 `json:"rtt_ms,omitempty"`
	Requests int      `json:"requests,omitempty"` // echo requests, SYNs or ARP/NS requests, retries included
	Answer   string   `json:"answer,omitempty"`   // the MAC an ARP or NDP answer gave

	ISN           *uint32 `json:"isn,omitempty"`
	SynSeen       *bool   `json:"syn_seen,omitempty"`
	SynAckSeen    bool    `json:"syn_ack_seen,omitempty"` // answered, though the handshake may not have completed
	BytesToServer *int    `json:"bytes_to_server,omitempty"`
	BytesToClient *int    `json:"bytes_to_client,omitempty"`
	Close         string  `json:"close,omitempty"` // fin, rst, open

	Errors   []ICMPErr  `json:"icmp_errors,omitempty"`
	Seen     []Sighting `json:"seen"`
	SeenMore int        `json:"seen_more,omitempty"` // sightings past MaxSightings, counted only
	Start    time.Time  `json:"start"`

	ports bool      // Src and Dst carry ports
	state tcpState  // TCP progress
	fins  uint8     // FIN seen from the client (1) and the server (2)
	key   flowKey   // its entry in its kind's table
	req   time.Time // first request
	order uint64    // creation order
	keep  int       // sightings kept (0: MaxSightings)
	vals  struct {  // what the pointer fields point at: one allocation per exchange
		id, seq            uint16
		rtt                float64
		isn                uint32
		syn                bool
		toServer, toClient int
	}
}

func (e *Exchange) setEnds(src, dst netip.AddrPort, ports bool) {
	e.SrcAddr, e.DstAddr, e.ports = src.Addr(), dst.Addr(), ports
	if ports {
		e.SrcPort, e.DstPort = src.Port(), dst.Port()
	}
}

// named fills Src and Dst from the typed ends; done when the exchange
// leaves the tracker, so that an open exchange costs no strings.
func (e *Exchange) named() *Exchange {
	if e.Src != "" || !e.SrcAddr.IsValid() {
		return e
	}
	if e.ports {
		e.Src = netip.AddrPortFrom(e.SrcAddr, e.SrcPort).String()
		e.Dst = netip.AddrPortFrom(e.DstAddr, e.DstPort).String()
	} else {
		e.Src, e.Dst = e.SrcAddr.String(), e.DstAddr.String()
	}
	return e
}

// Clone is a copy of e that shares nothing with it: what a Tracker's Emit
// keeps when the tracker reuses exchanges (Reuse).
func (e *Exchange) Clone() *Exchange {
	c := *e
	c.named()
	c.prev, c.next = nil, nil
	c.Seen = slices.Clone(e.Seen)
	c.Errors = slices.Clone(e.Errors)
	c.repoint(e)
	return &c
}

// CopyTo makes c a copy of e that shares nothing with it, as Clone does,
// reusing c's own arrays: what a reader that formats exchanges on another
// goroutine keeps, over and over, while the tracker reuses e (Reuse).
// Src and Dst stay as they are in e (AppendJSON fills them when empty).
func (e *Exchange) CopyTo(c *Exchange) {
	seen, errs := c.Seen[:0], c.Errors[:0]
	*c = *e
	c.prev, c.next = nil, nil
	c.Seen, c.Errors = nil, nil
	if e.Seen != nil {
		c.Seen = append(seen, e.Seen...)
	}
	if e.Errors != nil {
		c.Errors = append(errs, e.Errors...)
	}
	c.repoint(e)
}

// repoint aims the pointer fields of a copy of from at its own vals.
func (e *Exchange) repoint(from *Exchange) {
	if from.ID != nil {
		e.ID, e.Seq = &e.vals.id, &e.vals.seq
	}
	if from.RTTms != nil {
		e.RTTms = &e.vals.rtt
	}
	if from.ISN != nil {
		e.ISN = &e.vals.isn
	}
	if from.SynSeen != nil {
		e.SynSeen, e.BytesToServer, e.BytesToClient = &e.vals.syn, &e.vals.toServer, &e.vals.toClient
	}
}

// reset empties e for a new exchange, keeping its sightings' array. The
// array is not cleared: append writes each sighting whole, and clearing
// it wrote cache lines a flood's exchange never uses (an echo request has
// one sighting in room for two), long out of the cache by then.
func (e *Exchange) reset() {
	*e = Exchange{Seen: e.Seen[:0]}
}

func (e *Exchange) setEcho(id, seq uint16) {
	e.vals.id, e.vals.seq = id, seq
	e.ID, e.Seq = &e.vals.id, &e.vals.seq
}

func (e *Exchange) setRTT(d time.Duration) {
	e.vals.rtt = float64(d.Microseconds()) / 1000
	e.RTTms = &e.vals.rtt
}

func (e *Exchange) setTCP(synSeen bool) {
	e.vals.syn = synSeen
	e.SynSeen, e.BytesToServer, e.BytesToClient = &e.vals.syn, &e.vals.toServer, &e.vals.toClient
}

type tcpState uint8

const (
	tcpSyn tcpState = iota
	tcpSynAck
	tcpEstablished
	tcpClosed
)

func (e *Exchange) see(p *Packet, points []capture.Point, what string) {
	e.last = p.Time.UnixNano()
	name := ""
	if p.Point >= 0 && p.Point < len(points) {
		name = points[p.Point].Name
	}
	// The kernel's word on a drop is kept past MaxSightings, up to twice
	// as many sightings: a flow dropped packet after packet stays bounded.
	keep := e.keep
	if keep <= 0 {
		keep = MaxSightings
	}
	if len(e.Seen) >= keep && (p.Drop.IsZero() || len(e.Seen) >= 2*keep) {
		e.SeenMore++
		return
	}
	s := Sighting{Point: name, Dir: p.Dir.String(), Time: p.Time, What: what, Frame: p.Frame, Drop: p.Drop, PacketID: p.PacketID, Probe: probeOf(p.Comment)}
	if p.Kind == KindTCP {
		s.TCPFlags = p.Flags
	}
	s.TTL = p.TTL
	e.Seen = append(e.Seen, s)
}

// flowKey is the key of every exchange table: addresses as plain bytes
// (one memory hash per lookup, where netip.AddrPort fields cost a hash
// call each) and two numbers: ports for TCP, id and seq for echoes, zero
// for resolutions.
type flowKey struct {
	a, b [16]byte
	x, y uint16
}

func mkEchoKey(src, dst netip.Addr, id, seq uint16) flowKey {
	return flowKey{src.As16(), dst.As16(), id, seq}
}

func mkTCPKey(client, server netip.AddrPort) flowKey {
	return flowKey{client.Addr().As16(), server.Addr().As16(), client.Port(), server.Port()}
}

func mkUDPKey(client, server netip.AddrPort) flowKey { return mkTCPKey(client, server) }

func mkResKey(requester, target netip.Addr) flowKey {
	return flowKey{a: requester.As16(), b: target.As16()}
}
