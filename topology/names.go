package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// RunDir is where iproute2 keeps named network namespaces as bind mounts.
const RunDir = "/run/netns"

// ErrInvalidName marks a namespace or interface name refused before any
// system call.
var ErrInvalidName = errors.New("invalid name")

// maxIfaceName is IFNAMSIZ minus the terminating NUL.
const maxIfaceName = 15

// maxNamespaceName is NAME_MAX: the name becomes a file under /run/netns.
const maxNamespaceName = 255

// ValidateNamespace checks a namespace name the way iproute2 does before it
// creates /run/netns/NAME, and refuses what could never be a file name there.
func ValidateNamespace(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("namespace name is empty: %w", ErrInvalidName)
	case len(name) > maxNamespaceName:
		return fmt.Errorf("namespace name %.20q... is longer than %d bytes: %w", name, maxNamespaceName, ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("namespace name %q is not allowed: %w", name, ErrInvalidName)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("namespace name %q contains '/' or NUL: %w", name, ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("namespace name %q is not valid UTF-8: %w", name, ErrInvalidName)
	case strings.IndexFunc(name, isSpaceOrControl) >= 0:
		return fmt.Errorf("namespace name %q contains whitespace or a control character: %w", name, ErrInvalidName)
	}
	return nil
}

// ValidateInterface checks an interface name the way the kernel's
// dev_valid_name does, and also refuses what a shell user could not type back.
func ValidateInterface(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("interface name is empty: %w", ErrInvalidName)
	case len(name) > maxIfaceName:
		return fmt.Errorf("interface name %q is longer than %d bytes: %w", name, maxIfaceName, ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed: %w", name, ErrInvalidName)
	case strings.ContainsAny(name, "/:\x00"):
		return fmt.Errorf("interface name %q contains '/', ':' or NUL: %w", name, ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("interface name %q is not valid UTF-8: %w", name, ErrInvalidName)
	case strings.IndexFunc(name, isSpaceOrControl) >= 0:
		return fmt.Errorf("interface name %q contains whitespace or a control character: %w", name, ErrInvalidName)
	}
	return nil
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f || r == utf8.RuneError
}

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
