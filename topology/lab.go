package topology

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/cmdline"
)

// ErrConflict marks an existing object that contradicts the lab asked for.
var ErrConflict = errors.New("conflicts with the lab")

// Lab names the two namespaces, the veth pair joining them and the
// addresses on each end: the walkthrough's topology. Addr0 and Addr1 are the
// first address of each end, Extra0 and Extra1 any more (say, the other IP
// family: a dual-stack lab).
type Lab struct {
	NS0, NS1       string
	Veth0, Veth1   string
	Addr0, Addr1   netip.Prefix
	Extra0, Extra1 []netip.Prefix
}

// Addrs0 is every address of Veth0, Addr0 first.
func (l Lab) Addrs0() []netip.Prefix { return append([]netip.Prefix{l.Addr0}, l.Extra0...) }

// Addrs1 is every address of Veth1, Addr1 first.
func (l Lab) Addrs1() []netip.Prefix { return append([]netip.Prefix{l.Addr1}, l.Extra1...) }

// DefaultLab is the walkthrough's lab.
func DefaultLab() Lab {
	return Lab{
		NS0: "vnet0", NS1: "vnet1",
		Veth0: "veth0", Veth1: "veth1",
		Addr0: netip.MustParsePrefix("10.0.1.0/24"),
		Addr1: netip.MustParsePrefix("10.0.2.0/24"),
	}
}

// Validate checks every name and address before anything touches the kernel.
func (l Lab) Validate() error {
	for _, n := range []string{l.NS0, l.NS1} {
		if err := ValidateNamespace(n); err != nil {
			return err
		}
	}
	for _, n := range []string{l.Veth0, l.Veth1} {
		if err := ValidateInterface(n); err != nil {
			return err
		}
	}
	if l.NS0 == l.NS1 {
		return fmt.Errorf("both ends are in namespace %q: the lab needs two", l.NS0)
	}
	seen := map[netip.Addr]bool{}
	for _, p := range append(l.Addrs0(), l.Addrs1()...) {
		if _, err := ParseInterfacePrefix(p.String()); err != nil {
			return err
		}
		if seen[p.Addr()] {
			return fmt.Errorf("address %s is given twice", p.Addr())
		}
		seen[p.Addr()] = true
	}
	return nil
}

// unusable says why an IPv4 interface address cannot work, or "" when it
// can. The kernel accepts all of these on an interface; none of them
// answers a peer. The network address itself is fine (the walkthrough's
// 10.0.1.0/24: Linux answers it like any other), and in a /31 or /32 every
// address is a host (RFC 3021).
func unusable(p netip.Prefix) string {
	a := p.Addr()
	switch {
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the limited broadcast address"
	case a.IsUnspecified():
		return "the unspecified address"
	case a.IsLoopback():
		return "a loopback address (127.0.0.0/8 lives on lo)"
	case a.Is4() && a.IsMulticast():
		return "a multicast address (224.0.0.0/4)"
	case a.Is6() && a.IsMulticast():
		return "a multicast address (ff00::/8)"
	case a.Is4() && p.Bits() <= 30 && a == lastAddr(p):
		return "the broadcast address of " + p.Masked().String()
	}
	return ""
}

// lastAddr is the highest address of p's subnet: its broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// hostExample is an address to suggest instead of p: the first host of
// p's subnet when only p's host part is wrong, else the walkthrough's. A
// subnet in 240.0.0.0/4 (reserved; the limited broadcast address's) gets
// the walkthrough's: 255.255.255.1/24 is no better an answer.
func hostExample(p netip.Prefix) string {
	a := p.Addr()
	if a.Is6() {
		return "fd00:1::1/64"
	}
	if p.Bits() <= 30 && a.As4()[0] < 240 && !a.IsUnspecified() && !a.IsLoopback() && !a.IsMulticast() && p.Masked().Addr().Next() != lastAddr(p) {
		return netip.PrefixFrom(p.Masked().Addr().Next(), p.Bits()).String()
	}
	return "10.0.1.1/24"
}

// Route0 is the route `ip -n NS0 route add` adds: NS1's subnet via Veth0.
func (l Lab) Route0() netip.Prefix { return l.Addr1.Masked() }

// Route1 is the route back from NS1 to NS0's subnet via Veth1.
func (l Lab) Route1() netip.Prefix { return l.Addr0.Masked() }

// Routes0 are the routes NS0 needs: every subnet of Veth1, via Veth0.
func (l Lab) Routes0() []netip.Prefix { return masked(l.Addrs1()) }

// Routes1 are the routes back from NS1: every subnet of Veth0, via Veth1.
func (l Lab) Routes1() []netip.Prefix { return masked(l.Addrs0()) }

func masked(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, len(ps))
	for i, p := range ps {
		out[i] = p.Masked()
	}
	return out
}

// RouteCommands returns the iproute2 commands that add the lab's routes, in
// NS0 then NS1: the walkthrough's fix.
func (l Lab) RouteCommands() []string {
	var out []string
	for _, r := range l.Routes0() {
		out = append(out, RouteAddCommand(l.NS0, r, l.Veth0))
	}
	for _, r := range l.Routes1() {
		out = append(out, RouteAddCommand(l.NS1, r, l.Veth1))
	}
	return out
}

// RouteAddCommand is the iproute2 command that adds a device route (ip -6
// for an IPv6 one).
func RouteAddCommand(ns string, dst netip.Prefix, dev string) string {
	return cmdline.Route(ns, "add", dst, dev).String()
}

// family6 is -6 for an IPv6 address, as iproute2 commands for IPv6 read.
func family6(a netip.Addr) []string {
	if a.Is6() {
		return []string{"-6"}
	}
	return nil
}
