package decode

import (
	"net/netip"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// Kind is what a packet is, as far as exchanges care.
type Kind uint8

// Packet kinds.
const (
	KindOther Kind = iota
	KindARP
	KindIPv4 // IPv4 with a payload nsdump does not follow, or a fragment
	KindIPv6
	KindICMP4
	KindICMP6
	KindTCP
	KindUDP
)

// TCP flag bits as in the header's low byte.
const (
	FIN = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Quote is the packet an ICMP error carries back.
type Quote struct {
	Valid            bool
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16 // TCP/UDP
	ICMPType         uint8  // ICMP/ICMPv6
	ID, Seq          uint16 // echo
	TCPSeq           uint32
}

// Packet is one decoded frame, flat and fixed-size so that decoding
// allocates nothing.
type Packet struct {
	Time   time.Time
	NoTime bool
	Point  int
	// Frame is the packet's number in its capture, from 1 (Wireshark's
	// frame.number), when the reader numbers them; 0 otherwise. It joins
	// a sighting to its frame.
	Frame int
	Dir   capture.Direction
	Len   int
	Link  capture.LinkType
	// Comment is the capture file's comment on the frame.
	Comment string
	// Drop is the kernel's drop of the packet, on a drop monitor's point
	// (NS/drops); zero for a captured packet.
	Drop capture.Drop

	Kind      Kind
	Truncated bool
	Malformed string // why decoding stopped early, if it did
	Hash      uint64 // of the network-layer bytes: the same packet at two capture points
	// PacketID is the frame's epb_packetid, 0 when it has none; the
	// tracker sets the id it joined the packet by.
	PacketID uint64
	// Stop says why a packet is not decoded further when nothing is wrong
	// with it (an Ethernet type, link type or protocol nsdump does not
	// follow), with the value that decided it.
	Stop    StopReason
	StopVal uint32
	// Cut marks a header cut short by the snap length or malformed, as
	// tcpdump does ("[|tcp]", "[bad opt]"); the fields before it are good.
	Cut string
	// Tunnel is the outermost encapsulation, when the packet was found
	// inside one; every other field is the inner packet's.
	Tunnel Tunnel

	Src, Dst netip.Addr
	Proto    uint8
	TTL      uint8
	IPLen    int // total length from the IP header
	IPHdrLen int
	Frag     bool   // an IPv4 or IPv6 fragment
	FragOff  uint16 // in units of 8 bytes
	MoreFrag bool
	IPID     uint16
	// IP6Ext are the IPv6 extension headers tcpdump names; FragLen is
	// what follows a fragment header.
	IP6Ext  IP6Ext
	FragLen uint16

	// ARP
	ARPOp                uint16
	SenderMAC, TargetMAC [6]byte
	ARPSender, ARPTarget netip.Addr

	// ICMP and ICMPv6
	ICMPType, ICMPCode uint8
	ID, Seq            uint16
	NDTarget           netip.Addr // neighbour solicitation/advertisement
	// ICMPAux is the next-hop MTU of a frag-needed or packet-too-big, the
	// pointer of a parameter problem, or an MLDv2 report's record count.
	ICMPAux uint32
	Quote   Quote

	// TCP and UDP
	SrcPort, DstPort uint16
	PortsOnly        bool // the transport header is cut after its ports
	Flags            uint8
	TCPSeq, TCPAck   uint32
	Window           uint16
	Urgent           uint16
	PayloadLen       int
	// TCPOpts holds the TCP options as captured (TCPOptLen bytes): tcpdump
	// prints them on every line.
	TCPOpts   [40]byte
	TCPOptLen uint8
}

// Echo reports whether the packet is an ICMP or ICMPv6 echo request (true,
// false) or reply (false, true).
func (p *Packet) Echo() (request, reply bool) {
	switch p.Kind {
	case KindICMP4:
		return p.ICMPType == 8, p.ICMPType == 0
	case KindICMP6:
		return p.ICMPType == 128, p.ICMPType == 129
	}
	return false, false
}

// ICMPError reports whether the packet is an ICMP error that quotes another.
func (p *Packet) ICMPError() bool {
	switch p.Kind {
	case KindICMP4:
		return p.ICMPType == 3 || p.ICMPType == 11 || p.ICMPType == 12 || p.ICMPType == 5 || p.ICMPType == 4
	case KindICMP6:
		return p.ICMPType >= 1 && p.ICMPType <= 4
	}
	return false
}

// IP6Ext is a set of IPv6 extension headers.
type IP6Ext uint8

// IPv6 extension headers tcpdump prints by name.
const (
	ExtHopByHop IP6Ext = 1 << iota
)

// StopReason is why decoding ended at a layer nsdump does not follow.
type StopReason uint8

// Stop reasons; Packet.StopVal holds the value named.
const (
	StopNone      StopReason = iota
	StopLinkType             // a link type not decoded
	StopEtherType            // an Ethernet type not decoded
	StopLLC                  // an 802.2 service access point other than SNAP
	StopFamily               // a loopback or NFLOG address family
	StopPPP                  // a PPP protocol
	StopIPVersion            // an IP header whose version is neither 4 nor 6
	StopGRE                  // GRE flags: source routing, or an unknown version
	StopGENEVE               // an unknown GENEVE version
	StopMPLS                 // what lies under the label stack is not IP (a pseudowire)
	StopNFLOG                // an NFLOG record without a payload
	StopDepth                // more nested encapsulations than the decoder opens
)

func (p *Packet) stop(r StopReason, v uint32) { p.Stop, p.StopVal = r, v }

// cut marks a header the frame ends inside.
func (p *Packet) cut(why string) { p.Truncated, p.Malformed = true, why }

func (p *Packet) malformed(why string) { p.Malformed = why }
