package topology

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// end is one side of the lab as found before setup changes anything.
type end struct {
	ns     string
	veth   string
	addrs  []netip.Prefix
	routes []netip.Prefix
	h      *nsHandle    // nil while the namespace does not exist
	link   netlink.Link // nil while the veth does not exist
}

// Setup builds the lab, or completes a partial one. It looks at everything
// first and changes nothing when an existing object contradicts the lab;
// on a later failure it removes the namespaces it created. It returns what it
// did, one line per change, in iproute2 terms.
func Setup(l Lab, withRoutes bool) (done []string, err error) {
	return setup(l, withRoutes, false)
}

// SetupTransient is Setup for a lab this process removes itself (the
// demo's): both namespaces must be new, and they stay recorded, with their
// cookies, so that if the process is killed the next run can say they are
// left over and `teardown --leftovers` can remove exactly them. HandOver
// makes them ordinary.
func SetupTransient(l Lab, withRoutes bool) (done []string, err error) {
	return setup(l, withRoutes, true)
}

func setup(l Lab, withRoutes, transient bool) (done []string, err error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	unlock, err := lockLabs()
	if err != nil {
		return nil, err
	}
	defer unlock()
	done, err = repair(l.NS0, l.NS1)
	if err != nil {
		return done, err
	}
	ends := [2]*end{
		{ns: l.NS0, veth: l.Veth0, addrs: l.Addrs0(), routes: l.Routes0()},
		{ns: l.NS1, veth: l.Veth1, addrs: l.Addrs1(), routes: l.Routes1()},
	}
	defer func() {
		for _, e := range ends {
			e.h.Close()
		}
	}()
	for _, e := range ends {
		if err := e.look(); err != nil {
			return done, err
		}
		if transient && e.h != nil {
			return done, fmt.Errorf("namespace %q: %w (a lab that removes itself builds its own namespaces)", e.ns, ErrExists)
		}
	}
	if err := check(ends, withRoutes); err != nil {
		return done, err
	}

	var created []string
	defer func() {
		if err != nil {
			for _, name := range created {
				DeleteNamespace(name)
				removeRecord(name)
			}
		}
	}()
	for _, e := range ends {
		if e.h != nil {
			continue
		}
		if err := createNamespace(e.ns, transient); err != nil {
			return done, err
		}
		created = append(created, e.ns)
		done = append(done, cmdline.Command{"ip", "netns", "add", e.ns}.String())
		if e.h, err = (*Targets)(nil).openHandle(e.ns); err != nil {
			return done, err
		}
	}
	steps := []func([2]*end) ([]string, error){createVeth, addAddresses, setUp}
	if withRoutes {
		steps = append(steps, addRoutes)
	}
	for _, step := range steps {
		d, err := step(ends)
		done = append(done, d...)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (e *end) look() error {
	h, err := (*Targets)(nil).openHandle(e.ns)
	if errors.Is(err, ErrNoNamespace) {
		return nil
	}
	if err != nil {
		return err
	}
	e.h = h
	e.link, err = h.linkByName(e.veth)
	return err
}

// check refuses, naming the object, every existing thing the lab would have
// to change or remove.
func check(ends [2]*end, withRoutes bool) error {
	a, b := ends[0], ends[1]
	switch {
	case a.link == nil && b.link != nil:
		return fmt.Errorf("%s already exists in namespace %q without its peer %s in %q: %w", b.veth, b.ns, a.veth, a.ns, ErrConflict)
	case a.link != nil:
		if err := checkPair(a, b); err != nil {
			return err
		}
	}
	for _, e := range ends {
		if err := e.checkAddrs(); err != nil {
			return err
		}
		if err := e.checkSubnet(); err != nil {
			return err
		}
		if withRoutes {
			if err := e.checkRoute(); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkPair(a, b *end) error {
	if _, ok := a.link.(*netlink.Veth); !ok {
		return fmt.Errorf("%s in namespace %q is a %s, not a veth: %w", a.veth, a.ns, a.link.Type(), ErrConflict)
	}
	if b.h != nil {
		nsid, err := a.h.nl.GetNetNsIdByFd(int(b.h.ns))
		if err == nil && nsid >= 0 && nsid == a.link.Attrs().NetNsID && b.link != nil &&
			b.link.Attrs().Index == a.link.Attrs().ParentIndex {
			return nil
		}
	}
	return fmt.Errorf("%s in namespace %q is not paired with %s in %q: %w", a.veth, a.ns, b.veth, b.ns, ErrConflict)
}

func (e *end) checkAddrs() error {
	if e.link == nil {
		return nil
	}
	have, err := e.labAddrs()
	if err != nil {
		return err
	}
	for _, p := range have {
		if !slices.Contains(e.addrs, p) {
			return fmt.Errorf("%s in namespace %q has address %s, the lab wants %s: %w", e.veth, e.ns, p, prefixList(e.addrs), ErrConflict)
		}
	}
	return nil
}

// checkSubnet refuses a lab subnet that another interface of the namespace
// already has: the kernel would accept the second copy, and the namespace
// would then have two connected routes to one subnet.
func (e *end) checkSubnet() error {
	if e.h == nil {
		return nil
	}
	addrs, err := e.h.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses in %q: %w", e.ns, err)
	}
	for _, a := range addrs {
		if e.link != nil && a.LinkIndex == e.link.Attrs().Index {
			continue
		}
		p := ipNetPrefix(a.IPNet)
		if p.Addr().IsLinkLocalUnicast() || p.Addr().IsLoopback() {
			continue
		}
		for _, want := range e.addrs {
			if p.Masked().Overlaps(want.Masked()) {
				return fmt.Errorf("namespace %q already has %s on %s, in the subnet %s the lab wants on %s: %w",
					e.ns, p, e.h.linkName(uint32(a.LinkIndex)), want.Masked(), e.veth, ErrConflict)
			}
		}
	}
	return nil
}

// labAddrs lists the veth's addresses of both families, leaving out the
// IPv6 link-local ones the kernel gives every interface.
func (e *end) labAddrs() ([]netip.Prefix, error) {
	addrs, err := e.h.nl.AddrList(e.link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s in %q: %w", e.veth, e.ns, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if p := ipNetPrefix(a.IPNet); !p.Addr().IsLinkLocalUnicast() {
			out = append(out, p)
		}
	}
	return out, nil
}

func prefixList(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " and ")
}

func (e *end) checkRoute() error {
	if e.h == nil {
		return nil
	}
	for _, route := range e.routes {
		rs, err := e.mainRoutes(route)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if e.link == nil || r.LinkIndex != e.link.Attrs().Index || r.Gw != nil {
				return fmt.Errorf("namespace %q already has a route to %s that is not \"dev %s\": %w", e.ns, route, e.veth, ErrConflict)
			}
		}
	}
	return nil
}

func (e *end) mainRoutes(route netip.Prefix) ([]netlink.Route, error) {
	family := netlink.FAMILY_V4
	if route.Addr().Is6() {
		family = netlink.FAMILY_V6
	}
	filter := &netlink.Route{Dst: prefixIPNet(route), Table: unix.RT_TABLE_MAIN}
	rs, err := e.h.nl.RouteListFiltered(family, filter, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes in %q: %w", e.ns, err)
	}
	return rs, nil
}

func createVeth(ends [2]*end) ([]string, error) {
	a, b := ends[0], ends[1]
	if a.link != nil {
		return nil, nil
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: a.veth},
		PeerName:      b.veth,
		PeerNamespace: netlink.NsFd(b.h.ns),
	}
	if err := a.h.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("create veth pair %s/%s - %s/%s: %w", a.ns, a.veth, b.ns, b.veth, err)
	}
	for _, e := range ends {
		l, err := e.h.linkByName(e.veth)
		if err == nil && l == nil {
			err = fmt.Errorf("%s vanished from namespace %q", e.veth, e.ns)
		}
		if err != nil {
			return nil, err
		}
		e.link = l
	}
	return []string{cmdline.IP(a.ns, "link", "add", a.veth, "type", "veth", "peer", "name", b.veth, "netns", b.ns).String()}, nil
}

func addAddresses(ends [2]*end) ([]string, error) {
	var done []string
	for _, e := range ends {
		have, err := e.labAddrs()
		if err != nil {
			return done, err
		}
		for _, p := range e.addrs {
			if slices.Contains(have, p) {
				continue // check() made sure the others are the lab's
			}
			a := &netlink.Addr{IPNet: prefixIPNet(p)}
			if p.Addr().Is6() {
				// Usable at once: duplicate address detection would hold the
				// address "tentative" for a second or two.
				a.Flags = unix.IFA_F_NODAD
			}
			if err := e.h.nl.AddrAdd(e.link, a); err != nil {
				return done, fmt.Errorf("add %s to %s in %q: %w", p, e.veth, e.ns, err)
			}
			args := append(family6(p.Addr()), "addr", "add", p.String(), "dev", e.veth)
			done = append(done, cmdline.IP(e.ns, append(args, nodad(p)...)...).String())
		}
	}
	return done, nil
}

func setUp(ends [2]*end) ([]string, error) {
	var done []string
	for _, e := range ends {
		lo, err := e.h.linkByName("lo")
		if err != nil {
			return done, err
		}
		for _, l := range []netlink.Link{lo, e.link} {
			if l == nil || l.Attrs().Flags&net.FlagUp != 0 {
				continue
			}
			if err := e.h.nl.LinkSetUp(l); err != nil {
				return done, fmt.Errorf("set %s up in %q: %w", l.Attrs().Name, e.ns, err)
			}
			done = append(done, cmdline.IP(e.ns, "link", "set", l.Attrs().Name, "up").String())
		}
	}
	return done, nil
}

func addRoutes(ends [2]*end) ([]string, error) {
	var done []string
	for _, e := range ends {
		for _, route := range e.routes {
			rs, err := e.mainRoutes(route)
			if err != nil {
				return done, err
			}
			if len(rs) > 0 {
				continue // check() made sure it is "dev veth"
			}
			r := &netlink.Route{LinkIndex: e.link.Attrs().Index, Dst: prefixIPNet(route), Scope: netlink.SCOPE_LINK}
			if route.Addr().Is6() {
				r.Scope = netlink.SCOPE_UNIVERSE // as ip -6 route add ... dev makes it
			}
			if err := e.h.nl.RouteAdd(r); err != nil {
				return done, fmt.Errorf("add route %s dev %s in %q: %w", route, e.veth, e.ns, err)
			}
			done = append(done, RouteAddCommand(e.ns, route, e.veth))
		}
	}
	return done, nil
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func ipNetPrefix(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

// nodad is the flag setup gives an IPv6 address, as iproute2 writes it.
func nodad(p netip.Prefix) []string {
	if p.Addr().Is6() {
		return []string{"nodad"}
	}
	return nil
}
