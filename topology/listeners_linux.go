package topology

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/topology/nsstate"
	"golang.org/x/sys/unix"
)

const (
	tcpListen      = 10 // TCP_LISTEN in the socket diagnosis state numbering
	diagSkV6Only   = 11 // INET_DIAG_SKV6ONLY
	inetDiagReqLen = 56 // struct inet_diag_req_v2
	inetDiagMsgLen = 72 // struct inet_diag_msg
)

// Listeners lists the listening TCP sockets (proto "tcp") or the bound
// UDP sockets (proto "udp") of port in ns, both families, from the socket
// diagnosis netlink (NETLINK_INET_DIAG, the socket made inside ns), as
// `ss -ltn` / `ss -lun` show them. A connected UDP socket is left out: it
// takes only its peer's packets.
func Listeners(ns Held, proto string, port uint16) ([]nsstate.Listener, error) {
	ipproto, states := byte(unix.IPPROTO_TCP), uint32(1<<tcpListen)
	switch proto {
	case "tcp":
	case "udp":
		ipproto, states = unix.IPPROTO_UDP, 0xfff
	default:
		return nil, fmt.Errorf("listeners: protocol %q is neither tcp nor udp", clipWord([]byte(proto)))
	}
	fd := -1
	err := Do(ns.Handle, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_INET_DIAG)
		return err
	})
	if err != nil {
		return nil, ns.unreadable(proto+" listeners", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 10}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	nh, err := ns.netlinkHandle()
	if err != nil {
		return nil, ns.unreadable(proto+" listeners", err)
	}
	defer nh.Close()
	var out []nsstate.Listener
	for _, family := range []byte{unix.AF_INET, unix.AF_INET6} {
		req := make([]byte, inetDiagReqLen)
		req[0], req[1] = family, ipproto
		binary.NativeEndian.PutUint32(req[4:], states)
		msgs, err := exchange(fd, unix.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP, req)
		if err != nil {
			return nil, ns.unreadable(proto+" listeners", err)
		}
		for _, m := range msgs {
			if l, ok := parseListener(m, proto, port); ok {
				if ifindex := binary.NativeEndian.Uint32(m[44:]); ifindex != 0 {
					l.Dev = indexName(nh, ifindex)
				}
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// parseListener reads a struct inet_diag_msg: family, state, timer,
// retrans, then the socket id (ports big-endian, addresses, interface).
func parseListener(m []byte, proto string, port uint16) (nsstate.Listener, bool) {
	if len(m) < inetDiagMsgLen {
		return nsstate.Listener{}, false
	}
	sport, dport := binary.BigEndian.Uint16(m[4:]), binary.BigEndian.Uint16(m[6:])
	if sport != port || (proto == "udp" && dport != 0) {
		return nsstate.Listener{}, false
	}
	var a netip.Addr
	if m[0] == unix.AF_INET {
		a = netip.AddrFrom4([4]byte(m[8:12]))
	} else {
		a = netip.AddrFrom16([16]byte(m[8:24]))
	}
	l := nsstate.Listener{Proto: proto, Local: netip.AddrPortFrom(a, port)}
	if v, ok := attrU8(attrs(m[inetDiagMsgLen:]), diagSkV6Only); ok && v != 0 {
		l.V6Only = true
	}
	return l, true
}
