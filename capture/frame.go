package capture

import (
	"fmt"
	"time"
)

// LinkType is a LINKTYPE_ value as pcap and pcapng store it.
type LinkType uint16

// The link types nsdump decodes.
const (
	LinkNull     LinkType = 0
	LinkEthernet LinkType = 1
	LinkPPP      LinkType = 9
	LinkRaw      LinkType = 101
	LinkLoop     LinkType = 108
	LinkSLL      LinkType = 113
	LinkIPv4     LinkType = 228
	LinkIPv6     LinkType = 229
	LinkSLL2     LinkType = 276
)

// String is the link type's LINKTYPE_ name without the prefix
// (ETHERNET, RAW, LINUX_SLL), or its number.
func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "ETHERNET"
	case LinkPPP:
		return "PPP"
	case LinkRaw:
		return "RAW"
	case LinkLoop:
		return "LOOP"
	case LinkSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkSLL2:
		return "LINUX_SLL2"
	}
	return fmt.Sprintf("LINKTYPE_%d", uint16(l))
}

// Direction is where a frame went relative to its capture point.
type Direction uint8

// Directions, as pcapng's epb_flags codes them.
const (
	DirUnknown Direction = 0
	DirIn      Direction = 1
	DirOut     Direction = 2
)

func (d Direction) String() string {
	switch d {
	case DirIn:
		return "In"
	case DirOut:
		return "Out"
	}
	return "-"
}

// Point is one capture point: an interface in a namespace, or an interface
// block of a file.
type Point struct {
	Name        string   // NS/IFACE, or the file's if_name
	Description string   // if_description
	LinkType    LinkType //
	SnapLen     uint32
}

// Frame is one packet record. Data is only valid until the next read.
type Frame struct {
	Time     time.Time
	Point    int // index into the source's points
	LinkType LinkType
	Dir      Direction
	Len      int // length on the wire; len(Data) may be less
	Data     []byte
	NoTime   bool   // a pcapng simple packet block carries no timestamp
	Comment  string // a pcapng packet's opt_comment (a kernel drop's reason), "" when none
	// PacketID is pcapng's epb_packetid: every sighting of one packet (at
	// several capture points, or dropped by the kernel) carries the same
	// id. 0: none.
	PacketID uint64
	// Drop is the kernel's drop of the packet when the drop monitor made
	// the frame (drops.Recorder); nil for a captured packet and for a
	// frame read from a file, whose drop is its comment (decode reads it).
	Drop *Drop
}

// FormatError is a capture file that cannot be read on from Offset.
type FormatError struct {
	Offset int64
	Msg    string
	// Truncated: the file ends inside a record (a capture killed, or one
	// still being written); everything before the record read well.
	Truncated bool
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("at offset %d: %s", e.Offset, e.Msg)
}

// MaxSnapLen is the largest packet nsdump keeps, libpcap's limit for
// Ethernet; a file claiming more is not trusted to size a buffer.
const MaxSnapLen = 262144

// maxBlock bounds one pcapng block.
const maxBlock = 16 << 20
