package decode

import "encoding/binary"

func (d *Decoder) ip4(b []byte, p *Packet) {
	if len(b) < 20 {
		p.cut("IPv4 header truncated")
		return
	}
	if v := b[0] >> 4; v != 4 {
		p.stop(StopIPVersion, uint32(v))
		return
	}
	ihl, total := int(b[0]&0x0f)*4, int(binary.BigEndian.Uint16(b[2:]))
	if total == 0 { // segmentation offload leaves it to the NIC
		total = len(b)
	}
	switch {
	case ihl < 20:
		p.malformed("IPv4 header length below 20")
		return
	case total < ihl:
		p.malformed("IPv4 total length below its header length")
		return
	}
	p.Kind, p.Proto, p.TTL, p.IPLen, p.IPHdrLen = KindIPv4, b[9], b[8], total, ihl
	p.IPID = binary.BigEndian.Uint16(b[4:])
	p.Src, p.Dst = addr4(b[12:16]), addr4(b[16:20])
	frag := binary.BigEndian.Uint16(b[6:])
	p.FragOff, p.MoreFrag = frag&0x1fff, frag&0x2000 != 0
	p.Frag = p.FragOff != 0 || p.MoreFrag
	if len(b) < ihl {
		p.Truncated = true
		p.Cut = "[|ip]"
		return
	}
	end := total
	if len(b) < end {
		p.Truncated, end = true, len(b)
	}
	p.Hash = hashRouted(b[:ihl], b[ihl:end], 8, 10)
	if p.FragOff != 0 {
		return // a later fragment: no transport header
	}
	d.transport(p.Proto, b[ihl:end], p)
}

// ip6 decodes IPv6 and walks its extension headers (hop-by-hop,
// destination options, routing, fragment, authentication) to the upper
// layer. A later fragment stops there, marked as a fragment.
func (d *Decoder) ip6(b []byte, p *Packet) {
	if len(b) < 40 {
		p.cut("IPv6 header truncated")
		return
	}
	if v := b[0] >> 4; v != 6 {
		p.stop(StopIPVersion, uint32(v))
		return
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	p.Kind, p.Proto, p.TTL, p.IPLen, p.IPHdrLen = KindIPv6, b[6], b[7], 40+plen, 40
	p.Src, p.Dst = addr16(b[8:24]), addr16(b[24:40])
	end := 40 + plen
	if plen == 0 && b[6] == 0 { // a jumbogram: the length is in hop-by-hop
		end, p.IPLen = len(b), len(b)
	}
	if len(b) < end {
		p.Truncated, end = true, len(b)
	}
	p.Hash = hashRouted(b[:40], b[40:end], 7, -1)
	rest, next := b[40:end], b[6]
	for ext := 0; ; ext++ {
		var n int
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(rest) >= 2 {
				n = (int(rest[1]) + 1) * 8
			}
		case 51: // authentication header
			if len(rest) >= 2 {
				n = (int(rest[1]) + 2) * 4
			}
		case 44:
			n = 8
		default:
			p.Proto = next
			d.transport(next, rest, p)
			return
		}
		if n == 0 || len(rest) < n || ext == maxDepth {
			p.Proto, p.Truncated, p.Cut = next, true, extCut[next]
			return
		}
		switch next {
		case 0:
			p.IP6Ext |= ExtHopByHop
		case 44:
			off := binary.BigEndian.Uint16(rest[2:])
			p.FragOff, p.MoreFrag = off>>3, off&1 != 0
			p.Frag = true
			p.FragLen = uint16(max(p.IPLen-p.IPHdrLen-n, 0))
		}
		p.IPHdrLen += n
		next, rest = rest[0], rest[n:]
		if p.Frag && p.FragOff != 0 {
			p.Proto = next
			return
		}
	}
}

// transport decodes what an IP header carries.
func (d *Decoder) transport(proto uint8, b []byte, p *Packet) {
	switch proto {
	case 1:
		d.icmp4(b, p)
	case 58:
		d.icmp6(b, p)
	case 6:
		tcp(b, p)
	case 17:
		d.udp(b, p)
	case 4:
		d.tunnel(TunnelIP, 0, p)
		d.ip4(b, p)
	case 41:
		d.tunnel(TunnelIP, 0, p)
		d.ip6(b, p)
	case 47:
		d.gre(b, p)
	}
}

func (d *Decoder) icmp4(b []byte, p *Packet) {
	if len(b) < 8 {
		p.Truncated, p.Cut = true, "[|icmp]"
		return
	}
	p.Kind, p.ICMPType, p.ICMPCode = KindICMP4, b[0], b[1]
	p.ID, p.Seq = binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	if p.ICMPType == 3 && p.ICMPCode == 4 {
		p.ICMPAux = uint32(p.Seq)
	}
	if p.ICMPError() {
		p.Quote = quote4(b[8:])
	}
}

func (d *Decoder) icmp6(b []byte, p *Packet) {
	if len(b) < 4 {
		p.Truncated, p.Cut = true, "[|icmp6]"
		return
	}
	p.Kind, p.ICMPType, p.ICMPCode = KindICMP6, b[0], b[1]
	body := b[4:]
	switch {
	case p.ICMPType == 128 || p.ICMPType == 129:
		if len(body) >= 4 {
			p.ID, p.Seq = binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:])
		}
	case p.ICMPType == 135 || p.ICMPType == 136:
		if len(body) < 20 {
			p.Truncated, p.Cut = true, "[|icmp6]"
			return
		}
		p.NDTarget = addr16(body[4:20])
	case p.ICMPType == 143:
		if len(body) >= 4 {
			p.ICMPAux = uint32(binary.BigEndian.Uint16(body[2:]))
		}
	case p.ICMPError():
		if len(body) >= 4 {
			p.ICMPAux = binary.BigEndian.Uint32(body)
			p.Quote = quote6(body[4:])
		}
	}
}

// tcp decodes the fixed 20-byte header whenever it is there, however the
// options end: cut by the snap length (`[|tcp]`, as tcpdump marks it) or
// malformed (`[bad opt]`). The connection still counts.
func tcp(b []byte, p *Packet) {
	if len(b) < 20 {
		if len(b) >= 4 {
			p.SrcPort, p.DstPort, p.PortsOnly = binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]), true
		}
		p.Truncated, p.Cut = true, "[|tcp]"
		return
	}
	p.Kind, p.SrcPort, p.DstPort = KindTCP, binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	p.TCPSeq, p.TCPAck = binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
	p.Flags, p.Window, p.Urgent = b[13], binary.BigEndian.Uint16(b[14:]), binary.BigEndian.Uint16(b[18:])
	hdr := int(b[12]>>4) * 4
	if hdr > 20 {
		p.TCPOptLen = uint8(copy(p.TCPOpts[:], b[20:min(hdr, len(b))]))
	}
	switch {
	case hdr < 20:
		p.Cut, hdr = "[bad hdr length]", 20
	case len(b) < hdr:
		p.Truncated, p.Cut = true, "[|tcp]"
	case !tcpOptionsValid(b[20:hdr]):
		p.Cut = "[bad opt]"
	}
	p.PayloadLen = l4Payload(p, hdr)
}

// tcpOptionsValid walks the options: each kind past NOP carries a length
// of at least 2 that stays inside the header.
func tcpOptionsValid(o []byte) bool {
	for len(o) > 0 {
		switch o[0] {
		case 0:
			return true
		case 1:
			o = o[1:]
			continue
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return false
		}
		o = o[o[1]:]
	}
	return true
}

func (d *Decoder) udp(b []byte, p *Packet) {
	if len(b) < 8 {
		if len(b) >= 4 {
			p.SrcPort, p.DstPort, p.PortsOnly = binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:]), true
		}
		p.Truncated, p.Cut = true, "[|udp]"
		return
	}
	ulen := int(binary.BigEndian.Uint16(b[4:]))
	p.Kind, p.SrcPort, p.DstPort = KindUDP, binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	p.PayloadLen = max(ulen-8, 0)
	if p.MoreFrag {
		return // the tunnel header may be whole, its payload is not
	}
	payload := b[8:]
	if ulen >= 8 && ulen < len(b) {
		payload = b[8:ulen]
	}
	switch {
	case p.DstPort == 4789 || p.SrcPort == 4789:
		d.vxlan(payload, p)
	case p.DstPort == 6081 || p.SrcPort == 6081:
		d.geneve(payload, p)
	}
}

// l4Payload is the transport payload length from the IP lengths, which a
// truncated capture keeps.
func l4Payload(p *Packet, hdr int) int {
	if p.IPLen == 0 {
		return 0
	}
	return max(p.IPLen-p.IPHdrLen-hdr, 0)
}

// quote4 reads the IPv4 header and first 8 bytes an ICMP error carries.
func quote4(b []byte) Quote {
	if len(b) < 20 || b[0]>>4 != 4 {
		return Quote{}
	}
	ihl := int(b[0]&0x0f) * 4
	q := Quote{Valid: true, Proto: b[9], Src: addr4(b[12:16]), Dst: addr4(b[16:20])}
	if ihl < 20 || len(b) < ihl+8 {
		return q
	}
	quoteL4(&q, b[ihl:], 1)
	return q
}

// quote6 reads the IPv6 header an ICMPv6 error carries, and the transport
// header past any extension headers (a packet too big for a fragment).
func quote6(b []byte) Quote {
	if len(b) < 40 || b[0]>>4 != 6 {
		return Quote{}
	}
	q := Quote{Valid: true, Proto: b[6], Src: addr16(b[8:24]), Dst: addr16(b[24:40])}
	rest := b[40:]
	for ext := 0; ext < maxDepth && len(rest) >= 8; ext++ {
		n := 0
		switch q.Proto {
		case 0, 43, 60:
			n = (int(rest[1]) + 1) * 8
		case 51:
			n = (int(rest[1]) + 2) * 4
		case 44:
			if binary.BigEndian.Uint16(rest[2:])&0xfff8 != 0 {
				return q // a later fragment quotes no transport header
			}
			n = 8
		}
		if n == 0 || len(rest) < n {
			break
		}
		q.Proto, rest = rest[0], rest[n:]
	}
	if len(rest) >= 8 {
		quoteL4(&q, rest, 58)
	}
	return q
}

func quoteL4(q *Quote, l4 []byte, icmpProto uint8) {
	switch q.Proto {
	case 6, 17:
		q.SrcPort, q.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		if q.Proto == 6 {
			q.TCPSeq = binary.BigEndian.Uint32(l4[4:])
		}
	case icmpProto:
		q.ICMPType = l4[0]
		q.ID, q.Seq = binary.BigEndian.Uint16(l4[4:]), binary.BigEndian.Uint16(l4[6:])
	}
}

// extCut names a cut extension header as tcpdump does.
var extCut = [256]string{0: "[|hbhopt]", 43: "[|srcrt]", 44: "[|frag]", 51: "[|ah]", 60: "[|dstopt]"}
