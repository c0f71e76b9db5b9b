package topology

import (
	"net/netip"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Neighbors lists the ARP and NDP entries of ns with their state and MAC,
// as `ip neigh` shows them (proxy entries and the NOARP entries of
// multicast groups left out).
func Neighbors(ns Held) ([]nsstate.NeighborEntry, error) {
	nh, err := ns.netlinkHandle()
	if err != nil {
		return nil, ns.unreadable("neighbours", err)
	}
	defer nh.Close()
	var out []nsstate.NeighborEntry
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		neighs, err := nh.NeighList(0, fam)
		if err != nil {
			return nil, ns.unreadable("neighbours", err)
		}
		for _, n := range neighs {
			if e, ok := neighborEntry(nh, n); ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func neighborEntry(nh *netlink.Handle, n netlink.Neigh) (nsstate.NeighborEntry, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok || a.IsMulticast() || n.Flags&netlink.NTF_PROXY != 0 {
		return nsstate.NeighborEntry{}, false
	}
	e := nsstate.NeighborEntry{Dev: indexName(nh, uint32(n.LinkIndex)), Addr: a.Unmap(), State: nsstate.NeighState(n.State)}
	if len(n.HardwareAddr) > 0 {
		e.MAC = n.HardwareAddr.String()
	}
	return e, true
}
