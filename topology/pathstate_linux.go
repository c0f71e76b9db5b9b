package topology

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// GatherState reads a namespace's NamespaceState: its links as Inspect
// describes them, with what a path judgement also needs, through one handle.
func (ts *Targets) GatherState(ns string) (*nsstate.NamespaceState, error) {
	h, err := ts.openHandle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ino, err := Inode(h.ns)
	if err != nil {
		return nil, fmt.Errorf("namespace %q: %w", ns, err)
	}
	st := &nsstate.NamespaceState{Name: ns, Inode: ino, Container: ts.stateContainer(ns), RPFilter: map[string]int{}}
	links, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces in %q: %w", ns, err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		a := l.Attrs()
		ifc, err := h.describe(l, names)
		if err != nil {
			return nil, err
		}
		ls := nsstate.LinkState{Name: ifc.Name, Index: ifc.Index, Kind: ifc.Kind, MAC: ifc.MAC, MTU: ifc.MTU,
			Up: ifc.Up, Carrier: ifc.Carrier, NoARP: a.RawFlags&unix.IFF_NOARP != 0,
			Master: names[a.MasterIndex], Peer: ifc.Peer, Addresses: []netip.Prefix{}}
		for _, s := range ifc.Addresses {
			if p, err := netip.ParsePrefix(s); err == nil {
				ls.Addresses = append(ls.Addresses, p)
			}
		}
		if ls.Peer != nil && ls.Peer.Namespace != "" {
			if pns, err := ts.OpenNamespace(ls.Peer.Namespace); err == nil {
				ls.PeerInode, _ = Inode(pns)
				pns.Close()
			}
		}
		h.linkKind(l, &ls, names)
		st.Links = append(st.Links, ls)
	}
	gatherSysctls(st, h)
	if fdb, err := h.nl.NeighList(0, unix.AF_BRIDGE); err == nil {
		for _, n := range fdb {
			port := names[n.LinkIndex]
			if br := names[n.MasterIndex]; br != "" && n.HardwareAddr != nil && port != br {
				st.FDB = append(st.FDB, nsstate.FDBEntry{Bridge: br, Port: port, MAC: n.HardwareAddr.String()})
			}
		}
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		neighs, err := h.nl.NeighList(0, fam)
		if err != nil {
			continue
		}
		for _, n := range neighs {
			a, ok := netip.AddrFromSlice(n.IP)
			if !ok || a.IsLinkLocalMulticast() || a.IsMulticast() {
				continue
			}
			e := nsstate.NeighborEntry{Dev: names[n.LinkIndex], Addr: a.Unmap(), State: nsstate.NeighState(n.State)}
			if n.HardwareAddr != nil {
				e.MAC = n.HardwareAddr.String()
			}
			st.Neighbors = append(st.Neighbors, e)
		}
	}
	return st, nil
}

// gatherSysctls reads the rp_filter of all and of every link but lo and
// bridge ports (a bridged frame meets no reverse-path filter, and a bridge
// may have hundreds of ports), and forwarding, in one switch into the
// namespace (readSysctls); each is -1 when it cannot be read.
func gatherSysctls(st *nsstate.NamespaceState, h *nsHandle) {
	paths := []string{"ipv4/conf/all/rp_filter", "ipv4/ip_forward", "ipv6/conf/all/forwarding"}
	for _, l := range st.Links {
		if m := st.Link(l.Master); l.Name != "lo" && (m == nil || m.Kind != "bridge") {
			paths = append(paths, "ipv4/conf/"+l.Name+"/rp_filter")
		}
	}
	vals, _ := readSysctls(Held{Handle: h.ns, Name: h.name}, paths)
	v := func(p string) int {
		if n, ok := vals[p]; ok {
			return n
		}
		return -1
	}
	st.RPFilter["all"], st.Forwarding4, st.Forwarding6 = v(paths[0]), v(paths[1]) == 1, v(paths[2]) == 1
	for _, p := range paths[3:] {
		st.RPFilter[strings.Split(p, "/")[2]] = v(p)
	}
}

// GatherState is ts.GatherState of a nil Targets: by name, nothing held.
func GatherState(ns string) (*nsstate.NamespaceState, error) {
	return (*Targets)(nil).GatherState(ns)
}

// linkKind fills in what a macvlan's or a vxlan's kind decides about the
// frames it passes: the macvlan's mode and lower device, the vxlan's VNI,
// addresses, port and underlay.
func (h *nsHandle) linkKind(l netlink.Link, ls *nsstate.LinkState, names map[int]string) {
	switch l := l.(type) {
	case *netlink.Macvlan:
		ls.MacvlanMode = macvlanModes[l.Mode]
		if l.Attrs().ParentIndex > 0 {
			ls.Lower = h.peer(l.Attrs(), names)
		}
	case *netlink.Vxlan:
		v := &nsstate.VXLAN{ID: uint32(l.VxlanId), Port: l.Port, Dev: names[l.VtepDevIndex], NoLearning: !l.Learning}
		if a, ok := netip.AddrFromSlice(l.Group); ok {
			v.Remote = a.Unmap()
		}
		if a, ok := netip.AddrFromSlice(l.SrcAddr); ok {
			v.Local = a.Unmap()
		}
		ls.VXLAN = v
	}
}

var macvlanModes = map[netlink.MacvlanMode]string{
	netlink.MACVLAN_MODE_PRIVATE: "private", netlink.MACVLAN_MODE_VEPA: "vepa", netlink.MACVLAN_MODE_BRIDGE: "bridge",
	netlink.MACVLAN_MODE_PASSTHRU: "passthru", netlink.MACVLAN_MODE_SOURCE: "source",
}
