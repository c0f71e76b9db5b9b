package trace

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/nsdump/nsdump/topology"
)

// family is one IP family's pair of addresses: a is A's (what B probes),
// b is B's (what A probes).
type family struct {
	v    int // 4 or 6
	a, b netip.Addr
}

func famOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// chooseFamilies picks, for every IP family both sides have (or the one
// --to/--from name), the address each side probes of the other.
func chooseFamilies(cfg Config, a, b *side) ([]family, error) {
	want := []int{4, 6}
	switch {
	case cfg.ToAddr.IsValid() && cfg.FromAddr.IsValid() && famOf(cfg.ToAddr) != famOf(cfg.FromAddr):
		return nil, fmt.Errorf("--from %s and --to %s are not of one IP family", cfg.FromAddr, cfg.ToAddr)
	case cfg.ToAddr.IsValid():
		want = []int{famOf(cfg.ToAddr)}
	case cfg.FromAddr.IsValid():
		want = []int{famOf(cfg.FromAddr)}
	}
	if cfg.FromAddr.IsValid() && !slices.Contains(addresses(a, famOf(cfg.FromAddr)), cfg.FromAddr) {
		return nil, fmt.Errorf("--from %s is not an address of %s (see nsdump ls %s)", cfg.FromAddr, a.name, a.name)
	}
	var out []family
	for _, v := range want {
		f := family{v: v, a: cfg.FromAddr, b: cfg.ToAddr}
		if !f.b.IsValid() {
			f.b = reach(a, b, v)
		}
		if !f.a.IsValid() {
			f.a = reach(b, a, v)
		}
		if f.a.IsValid() && f.b.IsValid() {
			out = append(out, f)
			continue
		}
		if len(want) == 1 {
			missing := a
			if !f.b.IsValid() {
				missing = b
			}
			return nil, fmt.Errorf("namespace %s has no IPv%d address to probe (see nsdump ls %s)", missing.name, v, missing.name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s and %s have no IP family in common to probe: %s has %s, %s has %s (see nsdump ls)",
			a.name, b.name, a.name, familiesOf(a), b.name, familiesOf(b))
	}
	return out, nil
}

// reach is the address of to that from should probe in family v: the one
// from's route lookup reaches through an interface facing to (a veth whose
// peer is in to); else to's address on the interface facing from; else
// to's first global address.
func reach(from, to *side, v int) netip.Addr {
	cands := addresses(to, v)
	if len(cands) == 0 {
		return netip.Addr{}
	}
	facing := facingIfaces(from, to.name)
	for _, c := range cands {
		if res, err := from.ts.RouteGet(from.name, topology.RouteQuery{Dst: c}); err == nil && slices.Contains(facing, res.Dev) && res.Type == "unicast" {
			return c
		}
	}
	back := facingIfaces(to, from.name)
	for _, ifc := range to.info.Interfaces {
		if slices.Contains(back, ifc.Name) {
			if as := globalAddrs(ifc, v); len(as) > 0 {
				return as[0]
			}
		}
	}
	return cands[0]
}

// facingIfaces are s's interfaces whose veth peer is in the namespace other.
func facingIfaces(s *side, other string) []string {
	var out []string
	for _, ifc := range s.info.Interfaces {
		if ifc.Peer != nil && ifc.Peer.Namespace == other {
			out = append(out, ifc.Name)
		}
	}
	return out
}

// addresses are s's global addresses of family v, interface by interface.
func addresses(s *side, v int) []netip.Addr {
	var out []netip.Addr
	for _, ifc := range s.info.Interfaces {
		out = append(out, globalAddrs(ifc, v)...)
	}
	return out
}

func globalAddrs(ifc topology.Interface, v int) []netip.Addr {
	var out []netip.Addr
	for _, a := range ifc.Addresses {
		p, err := netip.ParsePrefix(a)
		if err != nil || famOf(p.Addr()) != v || p.Addr().IsLoopback() || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		out = append(out, p.Addr())
	}
	return out
}

func familiesOf(s *side) string {
	switch v4, v6 := len(addresses(s, 4)) > 0, len(addresses(s, 6)) > 0; {
	case v4 && v6:
		return "IPv4 and IPv6"
	case v4:
		return "IPv4 only"
	case v6:
		return "IPv6 only"
	}
	return "no global address"
}

func netipFrom16(b [16]byte) netip.Addr { return netip.AddrFrom16(b).Unmap() }
