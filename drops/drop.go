package drops

import (
	"errors"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// ErrUnavailable is wrapped by Open when the kernel cannot report drops
// here: no BTF, no reason in the tracepoint, or no privilege for eBPF.
// The message says which.
var ErrUnavailable = errors.New("kernel drop reasons unavailable")

// Drop is one packet the kernel dropped.
type Drop struct {
	Time     time.Time
	Reason   string // the kernel's name without SKB_DROP_REASON_, e.g. NETFILTER_DROP
	Location string // the kernel function that dropped it, e.g. nft_do_chain
	Protocol uint16 // EtherType of the packet (skb->protocol)
	Netns    uint64 // inode of the namespace of its device, or of its socket
	Ifindex  int    // 0 when the skb had no device
	Iface    string // "" when the skb had no device
	Len      int    // length of the packet from its network header on
	Data     []byte // the first bytes from the network header on; see Monitor.Run
	MAC      []byte // the frame's Ethernet header, nil when the kernel had none; as Data
}

// Comment is the text a capture file carries beside the packet:
// "drop: REASON at LOCATION (IFACE)".
func (d *Drop) Comment() string {
	t := d.typed()
	return t.Comment()
}

// typed is the drop as a capture point's frame carries it.
func (d *Drop) typed() capture.Drop {
	iface := d.Iface
	if iface == "" {
		iface = capture.NoDevice
	}
	return capture.Drop{Reason: d.Reason, Location: d.Location, Iface: iface}
}

// The EtherTypes drops names.
const (
	EtherIPv4 = 0x0800
	EtherARP  = 0x0806
	EtherIPv6 = 0x86dd
)

// AppendEthernet appends the packet as an Ethernet (LINKTYPE_ETHERNET)
// frame, the link type of the captured interfaces beside it: libpcap, and
// so tcpdump, reads no file whose interfaces mix link types. The header is
// the frame's own when the kernel still had it (MAC), else made up: zero
// addresses and the protocol as its EtherType.
func (d *Drop) AppendEthernet(b []byte) []byte {
	if len(d.MAC) == EthernetHeaderLen {
		b = append(b, d.MAC...)
	} else {
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(d.Protocol>>8), byte(d.Protocol))
	}
	return append(b, d.Data...)
}

// EthernetHeaderLen is the length AppendEthernet puts before Data.
const EthernetHeaderLen = 14
