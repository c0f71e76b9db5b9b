package topology

import (
	"fmt"
	"net/netip"
	"strings"
)

// LookupQuery is a route lookup with every selector the kernel's policy
// routing and FIB use, as `ip route get DST from SRC iif IF oif IF mark M
// uid U tos T` asks it. Zero fields are not asked.
type LookupQuery struct {
	Dst  netip.Addr
	Src  netip.Addr // "from": the packet's source
	Iif  string     // the packet arrives on this interface (a forwarded packet)
	Oif  string     // the sender bound the socket to this interface
	Mark uint32     // fwmark
	UID  *uint32    // the sending socket's owner
	TOS  uint8      // the whole TOS byte; its DSCP is TOS>>2
}

// ruleSelector writes a rule's selector as iproute2's ip/iprule.c does.
func ruleSelector(invert bool, src, dst netip.Prefix, tos uint8, mark, mask uint32, iif, oif string, uid *[2]uint32, ipproto int, ports string) string {
	var f []string
	if invert {
		f = append(f, "not")
	}
	f = append(f, "from")
	if src.IsValid() && src.Bits() > 0 {
		f = append(f, prefixWord(src))
	} else {
		f = append(f, "all")
	}
	if dst.IsValid() && dst.Bits() > 0 {
		f = append(f, "to", prefixWord(dst))
	}
	if tos != 0 {
		f = append(f, "tos", fmt.Sprintf("0x%02x", tos))
	}
	if mark != 0 || mask != 0 {
		if mask == 0xffffffff {
			f = append(f, "fwmark", fmt.Sprintf("0x%x", mark))
		} else {
			f = append(f, "fwmark", fmt.Sprintf("0x%x/0x%x", mark, mask))
		}
	}
	if iif != "" {
		f = append(f, "iif", iif)
	}
	if oif != "" {
		f = append(f, "oif", oif)
	}
	if uid != nil {
		f = append(f, "uidrange", fmt.Sprintf("%d-%d", uid[0], uid[1]))
	}
	if ipproto != 0 {
		f = append(f, "ipproto", protoWord(ipproto))
	}
	if ports != "" {
		f = append(f, ports)
	}
	return strings.Join(f, " ")
}

func prefixWord(p netip.Prefix) string {
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return p.String()
}

func protoWord(p int) string {
	switch p {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1:
		return "icmp"
	case 58:
		return "ipv6-icmp"
	}
	return fmt.Sprint(p)
}
