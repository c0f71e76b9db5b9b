package netfilter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// IP protocol numbers a probe can use.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Probe is one probe flow: the packets nsdump sends from Src to Dst and
// their answers. Tracing marks both directions and nothing else.
type Probe struct {
	Src, Dst netip.Addr
	Proto    uint8  // ProtoICMP, ProtoICMPv6, ProtoTCP or ProtoUDP
	SrcPort  uint16 // TCP, UDP: 0 matches any port
	DstPort  uint16
	ICMPID   uint16 // ICMP echo: the identifier, when HasID
	HasID    bool
}

// ErrBadProbe marks a probe spec that cannot be traced.
var ErrBadProbe = errors.New("bad probe")

// Validate checks a probe before any system call.
func (p Probe) Validate() error {
	bad := func(why string) error { return fmt.Errorf("%w %s: %s", ErrBadProbe, p, why) }
	if !p.Src.IsValid() || !p.Dst.IsValid() {
		return bad("source and destination addresses are needed")
	}
	if p.Src.Unmap().Is4() != p.Dst.Unmap().Is4() {
		return bad("source and destination are of different IP families")
	}
	switch p.Proto {
	case ProtoTCP, ProtoUDP:
		if p.HasID {
			return bad("an ICMP identifier on a port protocol")
		}
	case ProtoICMP, ProtoICMPv6:
		if (p.Proto == ProtoICMP) != p.Src.Unmap().Is4() {
			return bad("ICMP is IPv4's, ICMPv6 IPv6's")
		}
		if p.SrcPort != 0 || p.DstPort != 0 {
			return bad("ports on ICMP")
		}
	default:
		return bad("protocol must be icmp, icmpv6, tcp or udp")
	}
	return nil
}

func (p Probe) String() string {
	s := fmt.Sprintf("%s %s -> %s", protoName(p.Proto), p.Src, p.Dst)
	if p.SrcPort != 0 || p.DstPort != 0 {
		s += fmt.Sprintf(" ports %d -> %d", p.SrcPort, p.DstPort)
	}
	if p.HasID {
		s += fmt.Sprintf(" id %d", p.ICMPID)
	}
	return s
}

func protoName(p uint8) string {
	switch p {
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmpv6"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	}
	return fmt.Sprintf("proto %d", p)
}

// reverse is the answer's direction of p.
func (p Probe) reverse() Probe {
	r := p
	r.Src, r.Dst = p.Dst, p.Src
	r.SrcPort, r.DstPort = p.DstPort, p.SrcPort
	return r
}

// Direction says which way a packet of a probe flow went.
type Direction int

const (
	Forward Direction = iota + 1 // Src to Dst: the probe itself
	Reply                        // Dst to Src: its answer
)

func (d Direction) String() string {
	switch d {
	case Forward:
		return "forward"
	case Reply:
		return "reply"
	}
	return "none"
}

// Match says whether h is a packet of p's flow, and which way it went.
func (p Probe) Match(h Header) (Direction, bool) {
	if !h.Valid {
		return 0, false
	}
	if p.matchOne(h) {
		return Forward, true
	}
	if p.reverse().matchOne(h) {
		return Reply, true
	}
	return 0, false
}

func (p Probe) matchOne(h Header) bool {
	if h.Proto != p.Proto || h.Src != p.Src.Unmap() || h.Dst != p.Dst.Unmap() {
		return false
	}
	if p.SrcPort != 0 && h.SrcPort != p.SrcPort || p.DstPort != 0 && h.DstPort != p.DstPort {
		return false
	}
	return !p.HasID || h.HasID && h.ICMPID == p.ICMPID
}

// Header is what a trace event shows of its packet: enough to tell which
// probe it belongs to.
type Header struct {
	Valid    bool       `json:"valid"` // false when the event carried no (readable) IP header
	Src      netip.Addr `json:"src"`
	Dst      netip.Addr `json:"dst"`
	Proto    uint8      `json:"proto"`
	SrcPort  uint16     `json:"sport,omitempty"` // TCP, UDP
	DstPort  uint16     `json:"dport,omitempty"`
	ICMPType uint8      `json:"icmp_type,omitempty"` // ICMP, ICMPv6
	ICMPCode uint8      `json:"icmp_code,omitempty"`
	ICMPID   uint16     `json:"icmp_id,omitempty"` // echo request and reply
	HasID    bool       `json:"has_id,omitempty"`
	TCPFlags uint8      `json:"tcp_flags,omitempty"`
	IPID     uint16     `json:"ip_id,omitempty"` // IPv4 identification; tells retransmissions apart
}

// parseHeader reads an IP header (nh) and the start of the transport header
// (th), either of which may be truncated; it reads nothing past their ends.
func parseHeader(nh, th []byte) Header {
	var h Header
	switch {
	case len(nh) >= 20 && nh[0]>>4 == 4:
		h.Src = netip.AddrFrom4([4]byte(nh[12:16]))
		h.Dst = netip.AddrFrom4([4]byte(nh[16:20]))
		h.Proto = nh[9]
		h.IPID = binary.BigEndian.Uint16(nh[4:6])
	case len(nh) >= 40 && nh[0]>>4 == 6:
		h.Src = netip.AddrFrom16([16]byte(nh[8:24]))
		h.Dst = netip.AddrFrom16([16]byte(nh[24:40]))
		// The next header; extension headers are not followed: the kernel's
		// transport header says where the payload starts.
		h.Proto = nh[6]
	default:
		return h
	}
	h.Valid = true
	switch h.Proto {
	case ProtoTCP, ProtoUDP:
		if len(th) >= 4 {
			h.SrcPort = binary.BigEndian.Uint16(th[0:2])
			h.DstPort = binary.BigEndian.Uint16(th[2:4])
		}
		if h.Proto == ProtoTCP && len(th) >= 14 {
			h.TCPFlags = th[13]
		}
	case ProtoICMP, ProtoICMPv6:
		if len(th) >= 2 {
			h.ICMPType, h.ICMPCode = th[0], th[1]
		}
		if len(th) >= 6 && isEcho(h.Proto, h.ICMPType) {
			h.ICMPID = binary.BigEndian.Uint16(th[4:6])
			h.HasID = true
		}
	}
	return h
}

// ICMPv6's neighbour discovery types (RFC 4861): router solicitation
// (133) to redirect (137).
const (
	NDFirst uint8 = 133
	NDLast  uint8 = 137
)

// ND says whether h is an IPv6 neighbour discovery packet.
func (h Header) ND() bool {
	return h.Valid && h.Proto == ProtoICMPv6 && h.ICMPType >= NDFirst && h.ICMPType <= NDLast
}

func isEcho(proto, typ uint8) bool {
	if proto == ProtoICMP {
		return typ == 8 || typ == 0
	}
	return typ == 128 || typ == 129
}
