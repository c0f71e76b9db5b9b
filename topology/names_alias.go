package topology

import (
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/topology/names"
)

// RunDir is where iproute2 keeps named network namespaces as bind mounts.
const RunDir = names.RunDir

// ErrInvalidName marks a namespace or interface name refused before any
// system call.
var ErrInvalidName = names.ErrInvalidName

// ValidateNamespace checks a namespace name (names.ValidateNamespace).
func ValidateNamespace(name string) error { return names.ValidateNamespace(name) }

// ValidateInterface checks an interface name (names.ValidateInterface).
func ValidateInterface(name string) error { return names.ValidateInterface(name) }

// ParseInterfacePrefix parses an interface address in the form iproute2's
// "addr add" takes: ADDR/LEN, the host part kept (10.0.1.0/24 is the address
// 10.0.1.0 on a /24).
func ParseInterfacePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("address %q is not ADDR/LEN: %w", s, err)
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("address %q: zones are not accepted", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("address %q: write an IPv4-mapped address as IPv4", s)
	}
	if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
		return netip.Prefix{}, fmt.Errorf("address %q: link-local addresses are the kernel's own; give a global or ULA (fd00::/8) prefix", s)
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, fmt.Errorf("address %q cannot be an interface address", s)
	}
	if why := unusable(p); why != "" {
		return netip.Prefix{}, fmt.Errorf("address %q is %s: it cannot be an interface address; give a host address such as %s", s, why, hostExample(p))
	}
	return p, nil
}

// ParseAddr parses a single IPv4 or IPv6 address as "ip route get" takes it.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("address %q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q: zones are not accepted", s)
	}
	return a.Unmap(), nil
}
