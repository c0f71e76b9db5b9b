package nsstate

import (
	"fmt"
	"net/netip"
)

// Listener is a socket waiting for what a probe sends: a listening TCP
// socket or a bound UDP socket, as `ss -ltn` / `ss -lun` show them.
type Listener struct {
	Proto string         `json:"proto"`         // "tcp" or "udp"
	Local netip.AddrPort `json:"local"`         // the bound address: 0.0.0.0 or :: for any
	Dev   string         `json:"dev,omitempty"` // SO_BINDTODEVICE
	// V6Only: an IPv6 socket that takes no IPv4 (IPV6_V6ONLY); ss writes
	// a wildcard without it as "*".
	V6Only bool `json:"v6only,omitempty"`
}

// String is "tcp 127.0.0.1:7096", with " dev IF" for a socket bound to a device.
func (l Listener) String() string {
	s := l.Proto + " " + l.Local.String()
	if l.Dev != "" {
		s += " dev " + l.Dev
	}
	return s
}

// Accepts reports whether the socket takes a packet to dst: its address is
// dst or a wildcard of dst's family; an IPv6 wildcard takes IPv4 too unless
// V6Only.
func (l Listener) Accepts(dst netip.Addr) bool {
	a := l.Local.Addr()
	switch {
	case a == dst.Unmap():
		return true
	case a == netip.IPv4Unspecified():
		return dst.Unmap().Is4()
	case a == netip.IPv6Unspecified():
		return dst.Is6() && !dst.Is4In6() || !l.V6Only
	}
	return false
}

// Only describes listeners that do not accept dst, for a judgement's words:
// "something listens on 127.0.0.1:7096 only".
func Only(ls []Listener) string {
	if len(ls) == 0 {
		return ""
	}
	s := ls[0].Local.String()
	for _, l := range ls[1:] {
		s += ", " + l.Local.String()
	}
	return fmt.Sprintf("something listens on %s only", s)
}
