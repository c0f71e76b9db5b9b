package decode

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/capture"
)

// linkNFLOG is LINKTYPE_NFLOG, what `tcpdump -i nflog:N` records.
const linkNFLOG capture.LinkType = 239

// maxDepth bounds nested encapsulations (VLAN tags, tunnels, label stacks)
// so that a crafted frame cannot recurse without end.
const maxDepth = 16

// recoverPanics is cleared by the fuzz targets: production decoding turns
// a panic into a malformed packet, while the fuzzer must see it.
var recoverPanics = true

// faultHook, when a test sets it, runs inside Decode after the layers: the
// way to prove that a panic there is caught, or, with recoverPanics off,
// reaches the fuzzer.
var faultHook func(*Packet)

// Decoder decodes frames into Packets. Every layer is read in place from
// the frame, with its length checked before any field; nothing is
// allocated per packet. It is not safe for concurrent use: one per
// goroutine.
type Decoder struct {
	depth   int
	missing int // bytes of the frame past the snap length
}

// NewDecoder returns a decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// Decode fills p from f. A frame nsdump cannot follow still gives a Packet
// that says why (Stop, Cut or Malformed); a panic inside the decoder is
// caught and reported as malformed, never passed on.
func (d *Decoder) Decode(f capture.Frame, p *Packet) {
	*p = Packet{Time: f.Time, NoTime: f.NoTime, Point: f.Point, Dir: f.Dir, Len: f.Len, Link: f.LinkType}
	p.Comment, p.PacketID = f.Comment, f.PacketID
	if f.Drop != nil {
		p.Drop = *f.Drop
	}
	p.Truncated = len(f.Data) < f.Len
	d.depth, d.missing = 0, max(f.Len-len(f.Data), 0)
	if recoverPanics {
		defer recoverFault(p)
	}
	d.link(f.LinkType, f.Data, p)
	if faultHook != nil {
		faultHook(p)
	}
}

func recoverFault(p *Packet) {
	if r := recover(); r != nil {
		p.Malformed = fmt.Sprint("decoder fault: ", r)
	}
}

func (d *Decoder) link(lt capture.LinkType, b []byte, p *Packet) {
	switch lt {
	case capture.LinkEthernet:
		d.ether(b, p)
	case capture.LinkSLL:
		d.sll(b, p)
	case capture.LinkSLL2:
		d.sll2(b, p)
	case capture.LinkNull, capture.LinkLoop:
		d.loopback(b, p)
	case capture.LinkPPP:
		d.ppp(b, p)
	case capture.LinkIPv4:
		d.ip4(b, p)
	case capture.LinkIPv6:
		d.ip6(b, p)
	case capture.LinkRaw, 12, 14:
		d.rawIP(b, p)
	case linkNFLOG:
		d.nflog(b, p)
	default:
		p.stop(StopLinkType, uint32(lt))
	}
}

// rawIP decodes an IP packet with no link header, by its version nibble.
func (d *Decoder) rawIP(b []byte, p *Packet) {
	if len(b) > 0 && b[0]>>4 == 6 {
		d.ip6(b, p)
		return
	}
	d.ip4(b, p)
}

func (d *Decoder) ether(b []byte, p *Packet) {
	if len(b) < 14 {
		p.cut("Ethernet header truncated")
		return
	}
	d.etherType(binary.BigEndian.Uint16(b[12:]), b[14:], p)
}

// etherType decodes b as the payload an Ethernet type announces.
func (d *Decoder) etherType(et uint16, b []byte, p *Packet) {
	if d.depth++; d.depth > maxDepth {
		p.stop(StopDepth, maxDepth)
		return
	}
	switch et {
	case 0x0800:
		d.ip4(b, p)
	case 0x86dd:
		d.ip6(b, p)
	case 0x0806:
		d.arp(b, p)
	case 0x8100, 0x88a8, 0x9100: // 802.1Q, 802.1ad and old QinQ tags
		if len(b) < 4 {
			p.cut("VLAN tag truncated")
			return
		}
		d.etherType(binary.BigEndian.Uint16(b[2:]), b[4:], p)
	case 0x8847, 0x8848:
		d.mpls(b, p)
	case 0x8864:
		d.pppoe(b, p)
	default:
		if et < 0x0600 { // an 802.3 length: LLC follows
			d.llc(b[:min(len(b), int(et))], p)
			return
		}
		p.stop(StopEtherType, uint32(et))
	}
}

// llc follows 802.2 LLC to a SNAP Ethernet type; other service access
// points (spanning tree, NetBIOS, IPX) are named and left.
func (d *Decoder) llc(b []byte, p *Packet) {
	if len(b) < 3 {
		p.cut("LLC header truncated")
		return
	}
	if b[0] == 0xaa && b[1] == 0xaa && b[2] == 0x03 {
		if len(b) < 8 {
			p.cut("SNAP header truncated")
			return
		}
		d.etherType(binary.BigEndian.Uint16(b[6:]), b[8:], p)
		return
	}
	p.stop(StopLLC, uint32(b[0]))
}

// sll decodes a Linux cooked v1 header (LINKTYPE_LINUX_SLL, 16 bytes).
func (d *Decoder) sll(b []byte, p *Packet) {
	if len(b) < 16 {
		p.cut("cooked header truncated")
		return
	}
	p.Dir = cookedDir(uint8(binary.BigEndian.Uint16(b)), p.Dir)
	d.cookedProto(binary.BigEndian.Uint16(b[14:]), b[16:], p)
}

// sll2 decodes a Linux cooked v2 header (LINKTYPE_LINUX_SLL2, 20 bytes).
func (d *Decoder) sll2(b []byte, p *Packet) {
	if len(b) < 20 {
		p.cut("cooked v2 header truncated")
		return
	}
	p.Dir = cookedDir(b[10], p.Dir)
	d.cookedProto(binary.BigEndian.Uint16(b), b[20:], p)
}

// cookedProto follows a cooked header's protocol, where values below
// 0x0600 are Linux's ETH_P_802_2 and kin rather than lengths.
func (d *Decoder) cookedProto(proto uint16, b []byte, p *Packet) {
	switch proto {
	case 0x0004: // ETH_P_802_2
		d.llc(b, p)
	default:
		if proto < 0x0600 {
			p.stop(StopEtherType, uint32(proto))
			return
		}
		d.etherType(proto, b, p)
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

// loopback decodes BSD loopback (LINKTYPE_NULL, host byte order) and
// LINKTYPE_LOOP (network byte order): a 4-byte address family.
func (d *Decoder) loopback(b []byte, p *Packet) {
	if len(b) < 4 {
		p.cut("loopback header truncated")
		return
	}
	family := binary.BigEndian.Uint32(b)
	if family > 0xff {
		family = binary.LittleEndian.Uint32(b)
	}
	switch family {
	case 2:
		d.ip4(b[4:], p)
	case 10, 24, 28, 30: // Linux, NetBSD/OpenBSD, FreeBSD, Darwin
		d.ip6(b[4:], p)
	default:
		p.stop(StopFamily, family)
	}
}

// ppp decodes RFC 1661 framing (address and control optional) as
// LINKTYPE_PPP, GRE version 1 and PPPoE carry it.
func (d *Decoder) ppp(b []byte, p *Packet) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 2 {
		p.cut("PPP header truncated")
		return
	}
	d.pppProto(binary.BigEndian.Uint16(b), b[2:], p)
}

func (d *Decoder) pppProto(proto uint16, b []byte, p *Packet) {
	switch proto {
	case 0x0021:
		d.ip4(b, p)
	case 0x0057:
		d.ip6(b, p)
	case 0x0281, 0x0283:
		d.mpls(b, p)
	default:
		p.stop(StopPPP, uint32(proto))
	}
}

func (d *Decoder) arp(b []byte, p *Packet) {
	if len(b) < 8 {
		p.cut("ARP header truncated")
		return
	}
	hw, prot := int(b[4]), int(b[5])
	n := 8 + 2*hw + 2*prot
	if len(b) < n {
		p.cut("ARP addresses truncated")
		return
	}
	p.Kind, p.ARPOp = KindARP, binary.BigEndian.Uint16(b[6:])
	p.IPLen = len(b) + d.missing // what tcpdump prints as the ARP packet's length
	// Any 6-byte hardware address is a MAC-48, whatever the hardware type
	// says (IEEE 802 networks use 6, and tcpdump prints them alike).
	if hw == 6 {
		copy(p.SenderMAC[:], b[8:14])
		copy(p.TargetMAC[:], b[14+prot:20+prot])
	}
	if binary.BigEndian.Uint16(b[2:]) == 0x0800 && prot == 4 {
		p.ARPSender, p.ARPTarget = addr4(b[8+hw:12+hw]), addr4(b[12+2*hw:16+2*hw])
	}
	p.Hash = hashIP(b[:n], nil)
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

// hashIP mixes the network header and the first 16 payload bytes (ports,
// sequence numbers, echo id): a veth pair carries the frame unchanged, so
// both ends hash alike, while the IP id and checksum tell packets apart.
// How much of the payload was captured does not count (the header holds
// the length): a kernel drop's record of a packet holds its first 128
// bytes, and is the same packet.
func hashIP(hdr, payload []byte) uint64 {
	h := uint64(len(hdr)) << 32
	h = mixBytes(h, hdr)
	return mixBytes(h, payload[:min(len(payload), 16)]) | 1
}

// hashRouted is hashIP with the header's TTL (hop limit) at ttl and, when
// sum >= 0, its checksum at sum taken as zero: a router rewrites both, and
// the packet it forwards is still the one that entered it, not a
// retransmission.
func hashRouted(hdr, payload []byte, ttl, sum int) uint64 {
	var h [60]byte // the longest IPv4 header; IPv6's is 40
	n := copy(h[:], hdr)
	if ttl < n {
		h[ttl] = 0
	}
	if sum >= 0 && sum+1 < n {
		h[sum], h[sum+1] = 0, 0
	}
	return hashIP(h[:n], payload)
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
