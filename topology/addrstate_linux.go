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
	var out []nsstate.AddrState
	for _, l := range links {
		addrs, err := nh.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, ns.unreadable("addresses", fmt.Errorf("addresses of %s: %w", l.Attrs().Name, err))
		}
		for _, a := range addrs {
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
