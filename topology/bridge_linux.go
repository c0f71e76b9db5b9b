package topology

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sort"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// rawLink is what a link dump says of one link, for bridges and ports.
type rawLink struct {
	index, master  uint32
	flags          uint32
	name, kind     string
	info, protinfo map[uint16][]byte
}

// linkDump lists the links of family (AF_UNSPEC: every link with its
// IFLA_LINKINFO; AF_BRIDGE: bridge ports with IFLA_PROTINFO).
func linkDump(ns Held, family byte) ([]rawLink, error) {
	fd, err := ns.routeSocket()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	msgs, err := exchange(fd, unix.RTM_GETLINK, unix.NLM_F_DUMP, append([]byte{family}, make([]byte, unix.SizeofIfInfomsg-1)...))
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}
	var out []rawLink
	for _, m := range msgs {
		if len(m) < unix.SizeofIfInfomsg {
			continue
		}
		a := attrs(m[unix.SizeofIfInfomsg:])
		l := rawLink{index: binary.NativeEndian.Uint32(m[4:]), flags: binary.NativeEndian.Uint32(m[8:]), name: attrString(a, unix.IFLA_IFNAME)}
		l.master, _ = attrU32(a, unix.IFLA_MASTER)
		li := attrs(a[unix.IFLA_LINKINFO])
		l.kind, l.info = attrString(li, unix.IFLA_INFO_KIND), attrs(li[unix.IFLA_INFO_DATA])
		l.protinfo = attrs(a[unix.IFLA_PROTINFO])
		out = append(out, l)
	}
	return out, nil
}

// Bridges lists the namespace's bridges, each with its own state and its
// ports' STP state, learning, flooding and isolation (IFLA_BRPORT_*, as
// `bridge -d link` shows them).
func Bridges(ns Held) ([]nsstate.Bridge, error) {
	links, err := linkDump(ns, unix.AF_UNSPEC)
	if err != nil {
		return nil, ns.unreadable("bridges", err)
	}
	ports, err := linkDump(ns, unix.AF_BRIDGE)
	if err != nil {
		return nil, ns.unreadable("bridge ports", err)
	}
	var out []nsstate.Bridge
	byIndex := map[uint32]int{}
	for _, l := range links {
		if l.kind != "bridge" {
			continue
		}
		stp, _ := attrU32(l.info, unix.IFLA_BR_STP_STATE)
		byIndex[l.index] = len(out)
		out = append(out, nsstate.Bridge{Name: l.name, Up: l.flags&unix.IFF_UP != 0, Carrier: l.flags&unix.IFF_LOWER_UP != 0, STP: stp})
	}
	for _, p := range ports {
		i, ok := byIndex[p.master]
		if !ok || len(p.protinfo) == 0 {
			continue
		}
		out[i].Ports = append(out[i].Ports, bridgePort(p, out[i].Name))
	}
	return out, nil
}

func bridgePort(p rawLink, bridge string) nsstate.BridgePort {
	flag := func(t uint16) bool { v, _ := attrU8(p.protinfo, t); return v != 0 }
	state, _ := attrU8(p.protinfo, unix.IFLA_BRPORT_STATE)
	return nsstate.BridgePort{
		Name: p.name, Bridge: bridge, Up: p.flags&unix.IFF_UP != 0, Carrier: p.flags&unix.IFF_LOWER_UP != 0,
		State: nsstate.PortState(state), Learning: flag(unix.IFLA_BRPORT_LEARNING),
		Flood: flag(unix.IFLA_BRPORT_UNICAST_FLOOD), Isolated: flag(unix.IFLA_BRPORT_ISOLATED),
	}
}

// FDB lists the bridge forwarding database entries of the namespace for
// the MACs given (every entry when none is), as `bridge fdb` shows them.
func FDB(ns Held, macs ...net.HardwareAddr) ([]nsstate.BridgeFDBEntry, error) {
	nh, err := ns.netlinkHandle()
	if err != nil {
		return nil, ns.unreadable("bridge fdb", err)
	}
	defer nh.Close()
	neighs, err := nh.NeighList(0, unix.AF_BRIDGE)
	if err != nil {
		return nil, ns.unreadable("bridge fdb", err)
	}
	var out []nsstate.BridgeFDBEntry
	// Named from one link dump: a bridge's entries name its hundreds of
	// ports again and again.
	names := map[int]string{0: ""}
	if links, err := nh.LinkList(); err == nil {
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	name := func(i int) string {
		if _, ok := names[i]; !ok {
			names[i] = indexName(nh, uint32(i))
		}
		return names[i]
	}
	for _, n := range neighs {
		if !wanted(n.HardwareAddr, macs) {
			continue
		}
		e := nsstate.BridgeFDBEntry{MAC: n.HardwareAddr.String(), Port: name(n.LinkIndex), VLAN: n.Vlan}
		e.Bridge = name(n.MasterIndex)
		switch {
		case n.State&netlink.NUD_PERMANENT != 0:
			e.State = "permanent"
		case n.State&netlink.NUD_NOARP != 0:
			e.State = "static"
		case n.State&netlink.NUD_STALE != 0:
			e.State = "stale" // learned, past its ageing time, not yet collected
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].MAC < out[j].MAC })
	return out, nil
}

func wanted(mac net.HardwareAddr, macs []net.HardwareAddr) bool {
	if len(macs) == 0 {
		return true
	}
	for _, m := range macs {
		if bytes.Equal(m, mac) {
			return true
		}
	}
	return false
}
