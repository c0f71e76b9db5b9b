package topology

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tcpListen is TCP_LISTEN in the socket diagnosis state numbering.
const tcpListen = 10

// Listeners lists the listening TCP sockets (proto "tcp") or the bound
// UDP sockets (proto "udp") of port in ns, both families, from the socket
// diagnosis netlink (NETLINK_INET_DIAG, the socket made inside ns).
// A connected UDP socket is left out: it takes only its peer's packets.
func Listeners(ns Held, proto string, port uint16) ([]Listener, error) {
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("listeners: protocol %q is neither tcp nor udp", clipText([]byte(proto)))
	}
	nh, err := ns.netlinkHandle()
	if err != nil {
		return nil, ns.unreadable("listeners", err)
	}
	defer nh.Close()
	var out []Listener
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		var socks []*netlink.Socket
		if proto == "udp" {
			socks, err = nh.SocketDiagUDP(family)
		} else {
			socks, err = nh.SocketDiagTCP(family)
		}
		if err != nil {
			return nil, ns.unreadable(proto+" listeners", err)
		}
		for _, s := range socks {
			if l, ok := listener(nh, proto, port, s); ok {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

func listener(nh *netlink.Handle, proto string, port uint16, s *netlink.Socket) (Listener, bool) {
	if s.ID.SourcePort != port {
		return Listener{}, false
	}
	if proto == "tcp" && s.State != tcpListen {
		return Listener{}, false
	}
	if proto == "udp" && s.ID.DestinationPort != 0 {
		return Listener{}, false
	}
	a, ok := netip.AddrFromSlice(s.ID.Source)
	if !ok {
		return Listener{}, false
	}
	if s.Family == unix.AF_INET {
		a = a.Unmap()
	}
	return Listener{Proto: proto, Local: netip.AddrPortFrom(a, port), Dev: indexName(nh, s.ID.Interface)}, true
}
