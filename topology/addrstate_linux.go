package topology

import (
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netlink"
)

// AddressStates lists every address of the namespace with its flags, as
// `ip addr` shows them (IFA_FLAGS, so tentative, dadfailed, deprecated).
func AddressStates(ns Held) ([]nsstate.AddrState, error) {
	nh, err := ns.netlinkHandle()
	if err != nil {
		return nil, ns.unreadable("addresses", err)
	}
	defer nh.Close()
	links, err := nh.LinkList()
	if err != nil {
		return nil, ns.unreadable("addresses", fmt.Errorf("list links: %w", err))
	}
	// One dump for every link: a dump per link on a bridge of hundreds of
	// ports dumped every address hundreds of times.
	all, err := nh.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, ns.unreadable("addresses", fmt.Errorf("list addresses: %w", err))
	}
	byLink := map[int][]netlink.Addr{}
	for _, a := range all {
		byLink[a.LinkIndex] = append(byLink[a.LinkIndex], a)
	}
	var out []nsstate.AddrState
	for _, l := range links {
		for _, a := range byLink[l.Attrs().Index] {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ones, _ := a.Mask.Size()
			out = append(out, nsstate.AddrState{Interface: l.Attrs().Name, Prefix: netip.PrefixFrom(ip.Unmap(), ones), Flags: nsstate.AddrFlags(a.Flags)})
		}
	}
	return out, nil
}
