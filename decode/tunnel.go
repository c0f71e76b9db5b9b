package decode

import (
	"encoding/binary"
	"net/netip"
)

// TunnelKind is the encapsulation a packet was found in.
type TunnelKind uint8

// Encapsulations the decoder opens.
const (
	TunnelNone   TunnelKind = iota
	TunnelIP                // IP-in-IP, 6in4, 4in6, 6in6
	TunnelGRE               // ID: the key, if HasID
	TunnelERSPAN            // ID: the session; Version 1 (type I), 2 or 3
	TunnelVXLAN             // ID: the VNI
	TunnelGENEVE            // ID: the VNI
	TunnelMPLS              // ID: the top label
	TunnelPPPoE             // ID: the session
)

// Tunnel is the outermost encapsulation of a packet: its header fields as
// the outer layers gave them, while the Packet holds the inner packet,
// which is what exchanges are made of.
type Tunnel struct {
	Kind             TunnelKind
	Depth            uint8 // encapsulations opened, nested ones included
	Version          uint8 // ERSPAN's type, GRE's version
	HasID            bool
	ID               uint32
	Outer            Kind // KindIPv4, KindIPv6, KindUDP, or KindOther (MPLS, PPPoE over Ethernet)
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	// What tcpdump prints of the outermost header: GRE's flags, sequence
	// number and length (its header and payload), VXLAN's flags byte,
	// Geneve's flags byte and options length; Proto is GRE's and Geneve's
	// protocol type.
	Flags  uint16
	Seq    uint32
	Len    uint16
	OptLen uint8
	Proto  uint16
	// InnerEth is the Ethernet header an Ethernet tunnel (VXLAN, Geneve,
	// gretap) carries, InnerLen its frame's length: what tcpdump -e
	// prints of the inner frame.
	InnerEth [14]byte
	InnerLen uint16
}

// innerEthernet keeps the inner Ethernet header of the outermost tunnel.
func (d *Decoder) innerEthernet(b []byte, p *Packet) {
	if p.Tunnel.Depth == 1 && len(b) >= 14 {
		copy(p.Tunnel.InnerEth[:], b)
		p.Tunnel.InnerLen = uint16(len(b) + d.missing)
	}
}

// tunnel records the packet decoded so far as the outer layers of an
// encapsulation and clears it for the inner packet.
func (d *Decoder) tunnel(kind TunnelKind, id uint32, p *Packet) {
	t := p.Tunnel
	if t.Kind == TunnelNone {
		t = Tunnel{Kind: kind, ID: id, Outer: p.Kind, Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort}
		t.HasID = kind == TunnelVXLAN || kind == TunnelGENEVE || kind == TunnelMPLS || kind == TunnelPPPoE || kind == TunnelERSPAN
	}
	t.Depth++
	*p = Packet{Time: p.Time, NoTime: p.NoTime, Point: p.Point, Dir: p.Dir, Len: p.Len, Link: p.Link,
		Truncated: p.Truncated, Hash: p.Hash, Tunnel: t}
}

// gre decodes GRE version 0 (RFC 2784/2890: IP, Ethernet, MPLS, ERSPAN
// inside) and version 1 (PPTP's, carrying PPP).
func (d *Decoder) gre(b []byte, p *Packet) {
	if len(b) < 4 {
		p.Truncated, p.Cut = true, "[|gre]"
		return
	}
	flags, proto := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	hl := 4
	if flags&0x8000 != 0 { // checksum
		hl += 4
	}
	var key uint32
	hasKey := flags&0x2000 != 0
	if hasKey {
		if len(b) >= hl+4 {
			key = binary.BigEndian.Uint32(b[hl:])
		}
		hl += 4
	}
	seq := flags&0x1000 != 0
	if seq {
		hl += 4
	}
	switch ver := flags & 7; {
	case flags&0x4000 != 0:
		p.stop(StopGRE, uint32(flags))
		return
	case ver == 1 && flags&0x0080 != 0: // PPTP acknowledgment number
		hl += 4
	case ver > 1:
		p.stop(StopGRE, uint32(flags))
		return
	}
	if len(b) < hl {
		p.Truncated, p.Cut = true, "[|gre]"
		return
	}
	greLen := uint16(max(p.IPLen-p.IPHdrLen, 0))
	var seqNum uint32
	if seq && len(b) >= hl {
		seqNum = binary.BigEndian.Uint32(b[hl-4:])
	}
	b = b[hl:]
	switch proto {
	case 0x88be: // ERSPAN: type II with a sequence number, type I without
		if !seq {
			d.tunnel(TunnelERSPAN, 0, p)
			if p.Tunnel.Depth == 1 {
				p.Tunnel.Version, p.Tunnel.HasID = 1, false
			}
			d.ether(b, p)
			return
		}
		d.erspan(b, 8, 2, p)
	case 0x22eb:
		d.erspan(b, 12, 3, p)
	default:
		d.tunnel(TunnelGRE, key, p)
		if p.Tunnel.Depth == 1 {
			p.Tunnel.HasID, p.Tunnel.Version = hasKey, uint8(flags&7)
			p.Tunnel.Flags, p.Tunnel.Seq, p.Tunnel.Len, p.Tunnel.Proto = flags, seqNum, greLen, proto
			if flags&7 == 1 { // PPTP: the key field is payload length and call id
				p.Tunnel.ID &= 0xffff
			}
		}
		switch proto {
		case 0x6558: // transparent Ethernet bridging (gretap)
			d.innerEthernet(b, p)
			d.ether(b, p)
		case 0x880b:
			d.ppp(b, p)
		default:
			d.etherType(proto, b, p)
		}
	}
}

// erspan decodes an ERSPAN type II (8-byte) or III (12-byte, and 8 more
// when its O flag says a platform subheader follows) header, then the
// mirrored Ethernet frame.
func (d *Decoder) erspan(b []byte, hl int, version uint8, p *Packet) {
	if len(b) < hl {
		p.Truncated, p.Cut = true, "[|erspan]"
		return
	}
	session := uint32(binary.BigEndian.Uint16(b[2:]) & 0x3ff)
	if version == 3 && b[11]&1 != 0 {
		hl += 8
		if len(b) < hl {
			p.Truncated, p.Cut = true, "[|erspan]"
			return
		}
	}
	d.tunnel(TunnelERSPAN, session, p)
	if p.Tunnel.Depth == 1 {
		p.Tunnel.Version = version
	}
	d.ether(b[hl:], p)
}

// vxlan decodes RFC 7348's 8-byte header, then the inner Ethernet frame.
func (d *Decoder) vxlan(b []byte, p *Packet) {
	if len(b) < 8 {
		p.Truncated, p.Cut = true, "[|vxlan]"
		return
	}
	d.tunnel(TunnelVXLAN, binary.BigEndian.Uint32(b[4:])>>8, p)
	if p.Tunnel.Depth == 1 {
		p.Tunnel.Flags = uint16(b[0])
	}
	d.innerEthernet(b[8:], p)
	d.ether(b[8:], p)
}

// geneve decodes RFC 8926's header and options, then what its protocol
// type names: Ethernet (0x6558) or an Ethernet type.
func (d *Decoder) geneve(b []byte, p *Packet) {
	if len(b) < 8 {
		p.Truncated, p.Cut = true, "[|geneve]"
		return
	}
	if b[0]>>6 != 0 {
		p.stop(StopGENEVE, uint32(b[0]>>6))
		return
	}
	hl := 8 + int(b[0]&0x3f)*4
	if len(b) < hl {
		p.Truncated, p.Cut = true, "[|geneve]"
		return
	}
	proto := binary.BigEndian.Uint16(b[2:])
	d.tunnel(TunnelGENEVE, binary.BigEndian.Uint32(b[4:])>>8, p)
	if p.Tunnel.Depth == 1 {
		p.Tunnel.Flags, p.Tunnel.OptLen, p.Tunnel.Proto = uint16(b[1]), uint8(hl-8), proto
	}
	if proto == 0x6558 {
		d.innerEthernet(b[hl:], p)
		d.ether(b[hl:], p)
		return
	}
	d.etherType(proto, b[hl:], p)
}

// mpls skips an MPLS label stack; what lies under the bottom label is
// told by its first nibble, as tcpdump guesses it.
func (d *Decoder) mpls(b []byte, p *Packet) {
	if len(b) < 4 {
		p.cut("MPLS label stack truncated")
		return
	}
	d.tunnel(TunnelMPLS, binary.BigEndian.Uint32(b)>>12, p)
	for {
		if len(b) < 4 {
			p.cut("MPLS label stack truncated")
			return
		}
		bottom := b[2]&1 != 0
		b = b[4:]
		if bottom {
			break
		}
	}
	switch {
	case len(b) == 0:
		p.stop(StopMPLS, 0)
	case b[0]>>4 == 4:
		d.ip4(b, p)
	case b[0]>>4 == 6:
		d.ip6(b, p)
	default:
		p.stop(StopMPLS, uint32(b[0]>>4))
	}
}

// pppoe decodes a PPPoE session header and the PPP protocol after it.
func (d *Decoder) pppoe(b []byte, p *Packet) {
	if len(b) < 8 {
		p.cut("PPPoE header truncated")
		return
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	d.tunnel(TunnelPPPoE, uint32(binary.BigEndian.Uint16(b[2:])), p)
	body := b[6:]
	if n < len(body) {
		body = body[:n]
	}
	if len(body) < 2 {
		p.cut("PPPoE header truncated")
		return
	}
	d.pppProto(binary.BigEndian.Uint16(body), body[2:], p)
}

// nflog decodes LINKTYPE_NFLOG: a family byte, then type-length-value
// attributes in the capturing host's byte order, one of which
// (NFULA_PAYLOAD) holds the packet.
func (d *Decoder) nflog(b []byte, p *Packet) {
	if len(b) < 4 {
		p.cut("NFLOG header truncated")
		return
	}
	off, end, err := nflogPayload(b)
	switch {
	case err != "":
		p.cut(err)
	case off < 0:
		p.stop(StopNFLOG, 0)
	case b[0] == 2:
		d.ip4(b[off:end], p)
	case b[0] == 10:
		d.ip6(b[off:end], p)
	default:
		p.stop(StopFamily, uint32(b[0]))
	}
}

// nflogPayload finds the packet (NFULA_PAYLOAD) among an NFLOG record's
// attributes: b[off:end], off -1 when there is none. Attributes are in
// host byte order, which the first one's length tells.
func nflogPayload(b []byte) (off, end int, err string) {
	order := binary.ByteOrder(binary.LittleEndian)
	if len(b) >= 8 {
		if n := binary.LittleEndian.Uint16(b[4:]); n < 4 || int(n) > len(b)-4 {
			order = binary.BigEndian
		}
	}
	for at := 4; len(b)-at >= 4; {
		tlv := b[at:]
		n, typ := int(order.Uint16(tlv)), order.Uint16(tlv[2:])
		if n < 4 || n > len(tlv) {
			return 0, 0, "NFLOG attribute runs past the end"
		}
		if typ&0x7fff == 9 { // NFULA_PAYLOAD
			return at + 4, at + n, ""
		}
		at += min((n+3)&^3, len(tlv))
	}
	return -1, 0, ""
}
