package trace

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/nsdump/nsdump/topology"
)

// routeFix sets, in s, the route to the subnet of d that holds addr
// through s's interface whose peer is in d. `replace`, not `add`: a route
// that is there but wrong (another interface, a blackhole) makes add fail
// with "File exists". A blocking route more specific than the subnet would
// still win, so it is deleted first.
func routeFix(s, d *side, addr netip.Addr) string {
	right := facing(s, d)
	if right == nil {
		return ""
	}
	dst := subnetOf(d, addr)
	fix := topology.RouteReplaceCommand(s.name, dst, right.Name)
	if br := blockingRoute(s.name, addr); br != nil && br.Dst.Bits() > dst.Bits() {
		fix = fmt.Sprintf("%s route del %s && %s", topology.IPCommand(s.name), br, fix)
	}
	return fix
}

// subnetOf is the subnet of d's address that holds addr, else addr alone.
func subnetOf(d *side, addr netip.Addr) netip.Prefix {
	dst := netip.PrefixFrom(addr, addr.BitLen())
	for _, ifc := range d.info.Interfaces {
		for _, a := range ifc.Addresses {
			if p, err := netip.ParsePrefix(a); err == nil && p.Contains(addr) && p.Bits() > 0 {
				dst = p.Masked()
			}
		}
	}
	return dst
}

// facing is s's interface whose veth peer is in d: on two namespaces
// joined by a veth pair, the only way to d. Nil when none is (a bridge or
// a router between them).
func facing(s, d *side) *topology.Interface {
	for i, ifc := range s.info.Interfaces {
		if ifc.Peer != nil && ifc.Peer.Namespace == d.name {
			return &s.info.Interfaces[i]
		}
	}
	return nil
}

// blockingRoute is the blackhole, unreachable or prohibit route of ns that
// a failed lookup for dst met, if that is why it failed.
func blockingRoute(ns string, dst netip.Addr) *topology.BlockingRoute {
	rs, err := topology.BlockingRoutes(ns, dst)
	if err != nil || len(rs) == 0 {
		return nil
	}
	return &rs[0]
}

// wrongWay is a route that exists but sends the packet out of an
// interface that does not lead to the destination, while another does.
type wrongWay struct {
	ns, to      string       // the sender and the destination's namespace
	dst         netip.Addr   // what was looked up
	subnet      netip.Prefix // the destination's subnet, what the fix routes
	route       string       // the lookup's answer, as ip route get prints it
	dev, right  string       // the interface the route takes, and the one facing to
	devLeads    string       // where dev leads: its veth peer, or "" when nowhere known
	leftOnDev   int          // sightings of the packet leaving on dev
	resolution  string       // "ARP" or "neighbour discovery (NDP)"
	askedOnDev  bool         // a neighbour resolution was seen leaving on dev
	arrivedAtTo bool         // the packet was seen entering to
}

// judgeWrongWay is the verdict on a wrongWay; false when the facts do not
// show one (the packet arrived, or the route takes the right interface).
func judgeWrongWay(w wrongWay) (cause, detail, fix string, ok bool) {
	if w.arrivedAtTo || w.dev == "" || w.right == "" || w.dev == w.right {
		return "", "", "", false
	}
	leads := "no namespace nsdump knows"
	if w.devLeads != "" {
		leads = w.devLeads
	}
	detail = fmt.Sprintf("%s's route to %s (%s) leaves by %s, which leads to %s, not by %s, whose peer is in %s", w.ns, w.dst, w.route, w.dev, leads, w.right, w.to)
	var seen []string
	if w.leftOnDev > 0 {
		seen = append(seen, fmt.Sprintf("it was seen leaving on %s %d times", w.dev, w.leftOnDev))
	}
	if w.askedOnDev {
		seen = append(seen, fmt.Sprintf("%s for the next hop was seen leaving on %s", w.resolution, w.dev))
	}
	seen = append(seen, "nothing arrived in "+w.to)
	detail += ": " + strings.Join(seen, ", ")
	return CauseWrongRoute, detail, topology.RouteReplaceCommand(w.ns, w.subnet, w.right), true
}

// wrongRoute fills p when the sender's route leaves by the wrong
// interface; res is its route lookup for the destination.
func (r *run) wrongRoute(p *Probe, ev evidence, rg *RouteGet, res *topology.RouteResult) bool {
	return r.wrongWay(p, ev, r.from, r.to, r.dst, rg, res, ev.reachedDst)
}

// wrongRouteBack fills p when the request arrived and the receiver's
// route back leaves by the wrong interface. Reverse-path filtering drops
// a request whose route back is not the way it came: then the kernel's
// own reason stands.
func (r *run) wrongRouteBack(p *Probe, ev evidence) bool {
	if strings.Contains(kernelDrops(r.to), "ReversePath") {
		return false
	}
	rg, res := lookup(r.to.name, topology.RouteQuery{Dst: r.srcAddr()})
	return r.wrongWay(p, ev, r.to, r.from, r.srcAddr(), rg, res, ev.replyBack)
}

// wrongWay judges the route of s toward dst, in d; arrived says the
// packet was seen entering d.
func (r *run) wrongWay(p *Probe, ev evidence, s, d *side, dst netip.Addr, rg *RouteGet, res *topology.RouteResult, arrived bool) bool {
	if res == nil {
		return false
	}
	right := facing(s, d)
	if right == nil || !right.Up || !peerUp(d, right) {
		return false // no direct way to d, or it is down: not a question of routes
	}
	w := wrongWay{ns: s.name, to: d.name, dst: dst, subnet: subnetOf(d, dst), route: rg.Output,
		dev: res.Dev, right: right.Name, resolution: r.resolution(), arrivedAtTo: arrived}
	for _, ifc := range s.info.Interfaces {
		if ifc.Name == res.Dev && ifc.Peer != nil {
			if ifc.Peer.Namespace == d.name {
				return false // another veth into d: the right way too
			}
			w.devLeads = ifc.Peer.String()
		}
	}
	point := s.name + "/" + res.Dev
	for _, sg := range ev.seen {
		if sg.Point == point && sg.Dir == "Out" {
			w.leftOnDev++
		}
	}
	hop := dst
	if res.Gateway != "" {
		hop, _ = netip.ParseAddr(res.Gateway)
	}
	w.askedOnDev = r.resolutionSeen(hop, "Out", func(pt string) bool { return pt == point })
	cause, detail, fix, ok := judgeWrongWay(w)
	if ok {
		p.Cause, p.Namespace, p.RouteGet, p.Detail, p.Fix = cause, s.name, rg, detail, fix
	}
	return ok
}

// peerUp reports whether the veth peer of ifc, in d, is up.
func peerUp(d *side, ifc *topology.Interface) bool {
	for _, peer := range d.info.Interfaces {
		if peer.Name == ifc.Peer.Interface {
			return peer.Up
		}
	}
	return false
}
