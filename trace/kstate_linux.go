package trace

import (
	"errors"
	"net"
	"net/netip"
	"slices"

	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// gatherKernel reads the kernel facts of every namespace in names, after
// the probes: neighbour entries as the probes left them, so a fault fixed
// since an earlier trace is not judged from what that trace left behind.
// ifaces names the interfaces whose sysctls are read in a namespace
// (every one when it has no entry).
func gatherKernel(ts *topology.Targets, names []string, runs []*run, port uint16, ifaces map[string][]string) (*facts.KernelFacts, []facts.Gap) {
	kf := &facts.KernelFacts{}
	var gaps []facts.Gap
	for _, ns := range names {
		kf.States = append(kf.States, readKernelState(ts, &gaps, ns, runs, port, ifaces[ns]))
	}
	return kf, gaps
}

// readKernelState reads one namespace, each gap noted in gaps.
func readKernelState(ts *topology.Targets, gaps *[]facts.Gap, name string, runs []*run, port uint16, ifaces []string) facts.KernelState {
	ks := facts.KernelState{Namespace: name}
	h, err := ts.OpenNamespace(name)
	if err != nil {
		addGap(gaps, "namespace", name, err)
		return ks
	}
	defer h.Close()
	ns := topology.Held{Handle: h, Name: name}
	var errs []error
	var e error
	ks.Settings, e = topology.ReadSettings(ns, ifaces...)
	errs = append(errs, e)
	ks.Bridges, e = topology.Bridges(ns)
	errs = append(errs, e)
	if len(ks.Bridges) > 0 {
		ks.FDB, e = topology.FDB(ns)
		errs = append(errs, e)
	}
	ks.Addresses, e = topology.AddressStates(ns)
	errs = append(errs, e)
	ks.Neighbors, e = topology.Neighbors(ns)
	errs = append(errs, e)
	if slices.ContainsFunc(runs, func(r *run) bool { return r.to.name == name }) {
		ks.Listeners, e = topology.Listeners(ns, "tcp", port)
		errs = append(errs, e)
	}
	for _, q := range lookupsIn(name, runs) {
		lk, err := topology.RouteLookup(ns, q)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rl := facts.RuleLookup{Dst: q.Dst, Src: q.Src, Iif: q.Iif, Lookup: *lk}
		if lk.Route != nil {
			rl.Matched = fibMatch(h, q)
		}
		ks.Lookups = append(ks.Lookups, rl)
	}
	for _, err := range errs {
		if err != nil {
			addGap(gaps, "kernel state", name, err)
		}
	}
	return ks
}

// gap notes what could not be read, by the Unreadable's own words when it
// is one.
func addGap(gaps *[]facts.Gap, what, ns string, err error) {
	var u *topology.Unreadable
	if errors.As(err, &u) {
		what, err = u.What, u.Err
	}
	*gaps = append(*gaps, facts.Gap{What: what, Namespace: ns, Error: err.Error()})
}

// lookupsIn are the policy-aware lookups the paths make in ns: the
// sender's own (from its source address) and, where packets arrive to be
// forwarded, the input lookup on the interface they arrive on.
func lookupsIn(ns string, runs []*run) []topology.LookupQuery {
	var out []topology.LookupQuery
	for _, r := range runs {
		src := r.src
		if !src.IsValid() {
			src = r.back
		}
		for i, h := range r.path {
			if h.Namespace != ns || i == len(r.path)-1 && h.Role == facts.RoleDestination || h.Role == facts.RoleBridge {
				continue
			}
			q := topology.LookupQuery{Dst: r.dst, Src: src, Iif: h.In}
			if i == 0 {
				q.Iif = ""
			}
			if !slices.ContainsFunc(out, func(o topology.LookupQuery) bool { return sameQuery(o, q) }) {
				out = append(out, q)
			}
		}
	}
	return out
}

func sameQuery(a, b topology.LookupQuery) bool {
	return a.Dst == b.Dst && a.Src == b.Src && a.Iif == b.Iif
}

// fibMatch asks the kernel which route answered q (RTM_F_FIB_MATCH, as
// `ip route get ... fibmatch`); nil when it will not say.
func fibMatch(h netns.NsHandle, q topology.LookupQuery) *facts.MatchedRoute {
	var nh *netlink.Handle
	if err := topology.Do(h, func() error {
		var err error
		nh, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		return nil
	}
	defer nh.Close()
	opts := &netlink.RouteGetOptions{FIBMatch: true, Iif: q.Iif}
	if q.Src.IsValid() {
		opts.SrcAddr = net.IP(q.Src.AsSlice())
	}
	routes, err := nh.RouteGetWithOptions(net.IP(q.Dst.AsSlice()), opts)
	if err != nil || len(routes) == 0 {
		return nil
	}
	r := routes[0]
	m := &facts.MatchedRoute{Table: uint32(r.Table), Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
	if q.Dst.Is6() {
		m.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	if r.Dst != nil {
		a, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		m.Dst = netip.PrefixFrom(a.Unmap(), ones).Masked()
	}
	if gw, ok := netip.AddrFromSlice(r.Gw); ok {
		m.Gateway = gw.Unmap()
	}
	if l, err := nh.LinkByIndex(r.LinkIndex); err == nil {
		m.Dev = l.Attrs().Name
	}
	return m
}
