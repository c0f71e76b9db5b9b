package decode

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/nsdump/nsdump/capture"
)

// Decoder decodes frames into Packets. It is not safe for concurrent use:
// one per goroutine.
type Decoder struct {
	parsers   map[gopacket.LayerType]*gopacket.DecodingLayerParser
	lastFirst gopacket.LayerType
	last      *gopacket.DecodingLayerParser
	decoded   []gopacket.LayerType

	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     cooked
	sll2    cooked
	ppp     pppMPLS
	loop    layers.Loopback
	llc     layers.LLC
	snap    layers.SNAP
	arp     layers.ARP
	ip4     layers.IPv4
	ip6     layers.IPv6
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	tcp     layers.TCP
	udp     layers.UDP
	payload gopacket.Payload
}

// NewDecoder returns a decoder with its layers ready for reuse.
func NewDecoder() *Decoder {
	d := &Decoder{parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
	d.sll = cooked{layerType: layerTypeSLL}
	d.sll2 = cooked{v2: true, layerType: layerTypeSLL2}
	d.decoded = make([]gopacket.LayerType, 0, 16)
	return d
}

func (d *Decoder) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	if first == d.lastFirst && d.last != nil {
		return d.last // a file rarely changes link type: skip the map
	}
	if p, ok := d.parsers[first]; ok {
		d.lastFirst, d.last = first, p
		return p
	}
	p := gopacket.NewDecodingLayerParser(first,
		&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.ppp, &d.loop, &d.llc, &d.snap, &d.arp,
		&d.ip4, &d.ip6, &d.icmp4, &d.icmp6, &d.tcp, &d.udp, &d.payload)
	p.IgnoreUnsupported = true
	d.parsers[first] = p
	d.lastFirst, d.last = first, p
	return p
}

func firstLayer(lt capture.LinkType, data []byte) gopacket.LayerType {
	switch lt {
	case capture.LinkEthernet:
		return layers.LayerTypeEthernet
	case capture.LinkSLL:
		return layerTypeSLL
	case capture.LinkSLL2:
		return layerTypeSLL2
	case capture.LinkNull, capture.LinkLoop:
		return layers.LayerTypeLoopback
	case capture.LinkPPP:
		return layerTypePPP
	case capture.LinkIPv4:
		return layers.LayerTypeIPv4
	case capture.LinkIPv6:
		return layers.LayerTypeIPv6
	case capture.LinkRaw, 12, 14:
		if len(data) > 0 && data[0]>>4 == 6 {
			return layers.LayerTypeIPv6
		}
		return layers.LayerTypeIPv4
	}
	return gopacket.LayerTypeZero
}

// Decode fills p from f. A frame nsdump cannot follow still gives a Packet
// (KindOther, or a Malformed reason); a panic inside a layer decoder is
// caught and reported as malformed, never passed on.
func (d *Decoder) Decode(f capture.Frame, p *Packet) {
	*p = Packet{Time: f.Time, NoTime: f.NoTime, Point: f.Point, Dir: f.Dir, Len: f.Len, Link: f.LinkType}
	p.Truncated = len(f.Data) < f.Len
	first := firstLayer(f.LinkType, f.Data)
	if first == gopacket.LayerTypeZero {
		p.Malformed = fmt.Sprintf("link type %d not decoded", f.LinkType)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			p.Malformed = fmt.Sprint("decoder fault: ", r)
		}
	}()
	parser := d.parser(first)
	err := parser.DecodeLayers(f.Data, &d.decoded)
	truncated := parser.Truncated
	for _, lt := range d.decoded {
		d.fill(lt, p)
		if lt == layers.LayerTypeIPv6 && d.ip6.HopByHop != nil {
			// gopacket compares the payload length, hop-by-hop header
			// included, with what is left after that header, and so calls
			// every such packet truncated (MLD reports): judge it here.
			off := cap(f.Data) - cap(d.ip6.Contents)
			truncated = len(f.Data)-off < 40+int(d.ip6.Length)
		}
	}
	if truncated {
		p.Truncated = true
	}
	if p.Kind == KindIPv4 && p.MoreFrag && p.FragOff == 0 {
		firstFragment(p, d.ip4.Payload)
	}
	if err != nil && p.Malformed == "" {
		p.Malformed = err.Error()
	}
}

func (d *Decoder) fill(lt gopacket.LayerType, p *Packet) {
	switch lt {
	case layerTypeSLL:
		p.Dir = cookedDir(d.sll.PktType, p.Dir)
	case layerTypeSLL2:
		p.Dir = cookedDir(d.sll2.PktType, p.Dir)
	case layers.LayerTypeARP:
		d.fillARP(p)
	case layers.LayerTypeIPv4:
		ip := &d.ip4
		p.Kind, p.Proto, p.TTL, p.IPLen, p.IPID = KindIPv4, uint8(ip.Protocol), ip.TTL, int(ip.Length), ip.Id
		p.IPHdrLen = int(ip.IHL) * 4
		p.Src, p.Dst = addr4(ip.SrcIP), addr4(ip.DstIP)
		p.FragOff, p.MoreFrag = ip.FragOffset, ip.Flags&layers.IPv4MoreFragments != 0
		p.Frag = p.FragOff != 0 || p.MoreFrag
		p.Hash = hashIP(ip.Contents, ip.Payload)
	case layers.LayerTypeIPv6:
		ip := &d.ip6
		p.Kind, p.Proto, p.TTL, p.IPLen, p.IPHdrLen = KindIPv6, uint8(ip.NextHeader), ip.HopLimit, int(ip.Length)+40, 40
		if ip.HopByHop != nil {
			p.Proto = uint8(ip.HopByHop.NextHeader)
			p.IPHdrLen += len(ip.HopByHop.Contents)
		}
		p.Src, p.Dst = addr16(ip.SrcIP), addr16(ip.DstIP)
		p.Hash = hashIP(ip.Contents, ip.Payload)
	case layers.LayerTypeICMPv4:
		if p.Frag && p.FragOff != 0 {
			return
		}
		c := &d.icmp4
		p.Kind, p.ICMPType, p.ICMPCode = KindICMP4, c.TypeCode.Type(), c.TypeCode.Code()
		p.ID, p.Seq = c.Id, c.Seq
		if p.ICMPError() {
			p.Quote = quote4(c.Payload)
		}
	case layers.LayerTypeICMPv6:
		d.fillICMP6(p)
	case layers.LayerTypeTCP:
		t := &d.tcp
		p.Kind, p.SrcPort, p.DstPort = KindTCP, uint16(t.SrcPort), uint16(t.DstPort)
		p.TCPSeq, p.TCPAck, p.Window = t.Seq, t.Ack, t.Window
		if len(t.Contents) >= 14 {
			p.Flags = t.Contents[13]
		}
		p.PayloadLen = l4Payload(p, len(t.Contents))
	case layers.LayerTypeUDP:
		u := &d.udp
		p.Kind, p.SrcPort, p.DstPort = KindUDP, uint16(u.SrcPort), uint16(u.DstPort)
		p.PayloadLen = max(int(u.Length)-8, 0)
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

// firstFragment reads the transport ports of a first IPv4 fragment, which
// gopacket leaves undecoded, as tcpdump prints them.
func firstFragment(p *Packet, l4 []byte) {
	switch {
	case p.Proto == 17 && len(l4) >= 8:
		p.Kind, p.SrcPort, p.DstPort = KindUDP, binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		p.PayloadLen = max(int(binary.BigEndian.Uint16(l4[4:]))-8, 0)
	case p.Proto == 6 && len(l4) >= 20:
		p.Kind, p.SrcPort, p.DstPort = KindTCP, binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		p.TCPSeq, p.TCPAck, p.Flags = binary.BigEndian.Uint32(l4[4:]), binary.BigEndian.Uint32(l4[8:]), l4[13]
		p.Window = binary.BigEndian.Uint16(l4[14:])
	}
}

func cookedDir(pktType uint8, d capture.Direction) capture.Direction {
	switch pktType {
	case 4:
		return capture.DirOut
	case 0, 1, 2, 3:
		return capture.DirIn
	}
	return d
}

func (d *Decoder) fillARP(p *Packet) {
	a := &d.arp
	p.Kind, p.ARPOp = KindARP, a.Operation
	if a.AddrType == layers.LinkTypeEthernet && a.HwAddressSize == 6 && len(a.SourceHwAddress) == 6 && len(a.DstHwAddress) == 6 {
		copy(p.SenderMAC[:], a.SourceHwAddress)
		copy(p.TargetMAC[:], a.DstHwAddress)
	}
	if a.Protocol == layers.EthernetTypeIPv4 && a.ProtAddressSize == 4 {
		p.ARPSender, p.ARPTarget = addr4(a.SourceProtAddress), addr4(a.DstProtAddress)
	}
	p.Hash = hashIP(a.Contents, nil)
}

func (d *Decoder) fillICMP6(p *Packet) {
	c := &d.icmp6
	p.Kind, p.ICMPType, p.ICMPCode = KindICMP6, c.TypeCode.Type(), c.TypeCode.Code()
	body := c.Payload // everything after type, code and checksum
	switch {
	case p.ICMPType == 128 || p.ICMPType == 129:
		if len(body) >= 4 {
			p.ID, p.Seq = binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:])
		}
	case p.ICMPType == 135 || p.ICMPType == 136:
		if len(body) >= 20 {
			p.NDTarget = addr16(body[4:20])
		}
	case p.ICMPError():
		if len(body) >= 4 {
			p.Quote = quote6(body[4:])
		}
	}
}

func addr4(b []byte) netip.Addr {
	if len(b) != 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(b))
}

func addr16(b []byte) netip.Addr {
	if len(b) != 16 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(b))
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

// quote6 reads the IPv6 header an ICMPv6 error carries; extension headers
// are not followed.
func quote6(b []byte) Quote {
	if len(b) < 40 || b[0]>>4 != 6 {
		return Quote{}
	}
	q := Quote{Valid: true, Proto: b[6], Src: addr16(b[8:24]), Dst: addr16(b[24:40])}
	if len(b) >= 48 {
		quoteL4(&q, b[40:], 58)
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

// hashIP mixes the network header and the first 16 payload bytes (ports,
// sequence numbers, echo id): a veth pair carries the frame unchanged, so
// both ends hash alike, while the IP id and checksum tell packets apart.
func hashIP(hdr, payload []byte) uint64 {
	h := uint64(len(hdr))<<32 | uint64(len(payload))
	h = mixBytes(h, hdr)
	return mixBytes(h, payload[:min(len(payload), 16)]) | 1
}

func mixBytes(h uint64, b []byte) uint64 {
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0x9E3779B97F4A7C15
		h ^= h >> 29
		b = b[8:]
	}
	for _, c := range b {
		h = (h ^ uint64(c)) * 0x100000001B3
	}
	return h
}
