package topology

import (
	"net/netip"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netlink"
)

// refusingRoute is the most specific route of table that holds dst when it
// is a blackhole, unreachable or prohibit route: the route that refused a
// lookup which a rule sent to that table. Nil when the table's best match
// is a route that forwards, or the table has none for dst.
func refusingRoute(nh *netlink.Handle, table uint32, dst netip.Addr) *nsstate.BlockingRoute {
	fam := netlink.FAMILY_V4
	if dst.Is6() {
		fam = netlink.FAMILY_V6
	}
	routes, err := nh.RouteListFiltered(fam, &netlink.Route{Table: int(table)}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil
	}
	best, bestType := netip.Prefix{}, ""
	for _, r := range routes {
		p := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if dst.Is6() {
			p = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		if r.Dst != nil {
			p = ipNetPrefix(r.Dst)
		}
		if p.Contains(dst) && (!best.IsValid() || p.Bits() > best.Bits()) {
			best, bestType = p.Masked(), routeTypeName(byte(r.Type))
		}
	}
	switch bestType {
	case "blackhole", "unreachable", "prohibit":
		return &nsstate.BlockingRoute{Type: bestType, Dst: best}
	}
	return nil
}
