package topology

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// BlockingRoutes lists the blocking routes of namespace ns's main table
// that hold dst, the most specific first: the first is the one a failed
// route lookup for dst met.
func (ts *Targets) BlockingRoutes(ns string, dst netip.Addr) ([]nsstate.BlockingRoute, error) {
	h, err := ts.openHandle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	fam := netlink.FAMILY_V4
	if dst.Is6() {
		fam = netlink.FAMILY_V6
	}
	routes, err := h.nl.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes in %q: %w", ns, err)
	}
	var out []nsstate.BlockingRoute
	for _, r := range routes {
		typ := routeTypeName(byte(r.Type))
		if typ != "blackhole" && typ != "unreachable" && typ != "prohibit" {
			continue
		}
		p := netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		if dst.Is4() {
			p = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
		if r.Dst != nil {
			a, _ := netip.AddrFromSlice(r.Dst.IP)
			ones, _ := r.Dst.Mask.Size()
			p = netip.PrefixFrom(a.Unmap(), ones)
		}
		if p.Contains(dst) {
			out = append(out, nsstate.BlockingRoute{Type: typ, Dst: p.Masked()})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Dst.Bits() > out[j].Dst.Bits() })
	return out, nil
}

// BlockingRoutes is ts.BlockingRoutes of a nil Targets: by name, nothing held.
func BlockingRoutes(ns string, dst netip.Addr) ([]nsstate.BlockingRoute, error) {
	return (*Targets)(nil).BlockingRoutes(ns, dst)
}
