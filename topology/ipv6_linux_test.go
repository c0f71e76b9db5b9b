package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// v6Lab turns a test lab into an IPv6-only one (dual: both families).
func v6Lab(t *testing.T, dual bool) Lab {
	l := testLab(t)
	n := labSeq.Add(1)
	p0 := netip.MustParsePrefix(fmt.Sprintf("fd00:%x:1::1/64", n))
	p1 := netip.MustParsePrefix(fmt.Sprintf("fd00:%x:2::1/64", n))
	if dual {
		l.Extra0, l.Extra1 = []netip.Prefix{p0}, []netip.Prefix{p1}
	} else {
		l.Addr0, l.Addr1 = p0, p1
	}
	return l
}

// TestSetupIPv6 builds an IPv6-only and a dual-stack lab: idempotent, and
// the second family added to a one-family lab, with nodad addresses usable
// at once.
func TestSetupIPv6(t *testing.T) {
	for _, dual := range []bool{false, true} {
		t.Run(fmt.Sprintf("dual=%v", dual), func(t *testing.T) {
			l := v6Lab(t, dual)
			done, err := Setup(l, true)
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			text := strings.Join(done, "\n")
			for _, p := range append(l.Addrs0(), l.Addrs1()...) {
				if !strings.Contains(text, "addr add "+p.String()) {
					t.Errorf("setup did not add %s:\n%s", p, text)
				}
			}
			if again, err := Setup(l, true); err != nil || len(again) != 0 {
				t.Fatalf("second setup: %v %v, want nothing to do", again, err)
			}
			ns, err := Inspect(l.NS0)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range l.Addrs0() {
				if !hasAddr(ns, l.Veth0, p.String()) {
					t.Errorf("%s has no %s: %+v", l.Veth0, p, ns.Interfaces)
				}
			}
			for _, r := range l.Routes0() {
				res, err := RouteGet(l.NS0, RouteQuery{Dst: l.Addrs1()[len(l.Addrs1())-1].Addr()})
				if err != nil || res.Dev != l.Veth0 {
					t.Errorf("route to %s in %s: %+v %v", r, l.NS0, res, err)
				}
			}
		})
	}
}

// TestSetupIPv6AllOrNothing: a conflict in the second namespace leaves
// nothing behind; an address of the other family on the veth that the lab
// does not want is a conflict named as such.
func TestSetupIPv6AllOrNothing(t *testing.T) {
	l := v6Lab(t, true)
	if err := CreateNamespace(l.NS1); err != nil {
		t.Fatal(err)
	}
	h, err := (*Targets)(nil).openHandle(l.NS1)
	if err != nil {
		t.Fatal(err)
	}
	// Another interface with the lab's IPv6 subnet already there: setup must refuse.
	ip(t, "-n", l.NS1, "link", "add", "nsdnsdum", "type", "veth", "peer", "name", "nsdnsdum1")
	ip(t, "-n", l.NS1, "-6", "addr", "add", netip.PrefixFrom(l.Extra1[0].Addr().Next(), 64).String(), "dev", "nsdnsdum")
	h.Close()
	if _, err := Setup(l, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("setup over a conflicting IPv6 subnet: %v, want a conflict", err)
	}
	if NamespaceExists(l.NS0) {
		t.Errorf("setup refused but created %s", l.NS0)
	}
	DeleteNamespace(l.NS1)

	if _, err := Setup(Lab{NS0: l.NS0, NS1: l.NS1, Veth0: l.Veth0, Veth1: l.Veth1, Addr0: l.Addr0, Addr1: l.Addr1}, false); err != nil {
		t.Fatal(err)
	}
	// The IPv4 lab, asked again with IPv6 added: only the IPv6 is added.
	done, err := Setup(l, false)
	if err != nil || len(done) != 2 || !strings.Contains(done[0], " -6 addr add") {
		t.Fatalf("adding IPv6 to an IPv4 lab: %q %v", done, err)
	}
	// Asked with a different IPv6 address: a conflict, nothing changed.
	other := l
	other.Extra0 = []netip.Prefix{netip.MustParsePrefix("fd00:ffff::1/64")}
	if _, err := Setup(other, false); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), l.Extra0[0].String()) {
		t.Fatalf("setup with another IPv6 address: %v, want a conflict naming %s", err, l.Extra0[0])
	}
}

func TestRouteGetIPv6MatchesIproute2(t *testing.T) {
	l := v6Lab(t, true)
	if _, err := Setup(Lab{NS0: l.NS0, NS1: l.NS1, Veth0: l.Veth0, Veth1: l.Veth1, Addr0: l.Addr0, Addr1: l.Addr1, Extra0: l.Extra0, Extra1: l.Extra1}, false); err != nil {
		t.Fatal(err)
	}
	a0, a1 := l.Extra0[0].Addr(), l.Extra1[0].Addr()
	queries := []routeGetCase{
		{"remote", l.NS0, RouteQuery{Dst: a1}, []string{a1.String()}},
		{"local", l.NS0, RouteQuery{Dst: a0}, []string{a0.String()}},
		{"loopback", l.NS0, RouteQuery{Dst: netip.MustParseAddr("::1")}, []string{"::1"}},
		{"link-local", l.NS0, RouteQuery{Dst: netip.MustParseAddr("fe80::1")}, []string{"fe80::1"}},
		{"multicast", l.NS0, RouteQuery{Dst: netip.MustParseAddr("ff02::1")}, []string{"ff02::1"}},
		{"from", l.NS0, RouteQuery{Dst: a1, From: a0}, []string{a1.String(), "from", a0.String()}},
		{"return", l.NS1, RouteQuery{Dst: a0}, []string{a0.String()}},
		{"iif local", l.NS0, RouteQuery{Dst: a0, From: a1, Iif: l.Veth0}, []string{a0.String(), "from", a1.String(), "iif", l.Veth0}},
		{"iif forward", l.NS1, RouteQuery{Dst: a0, From: a1, Iif: l.Veth1}, []string{a0.String(), "from", a1.String(), "iif", l.Veth1}},
	}
	checkRouteGets(t, "without routes", queries, 2)
	ip(t, "-n", l.NS1, "-6", "route", "add", "unreachable", l.Extra0[0].Masked().String())
	checkRouteGets(t, "unreachable route back", queries, 3)
	ip(t, "-n", l.NS1, "-6", "route", "del", "unreachable", l.Extra0[0].Masked().String())
	if _, err := Setup(l, true); err != nil {
		t.Fatal(err)
	}
	checkRouteGets(t, "with routes", queries, 0)
}

func hasAddr(ns *Namespace, ifc, addr string) bool {
	for _, i := range ns.Interfaces {
		if i.Name == ifc {
			for _, a := range i.Addresses {
				if a == addr {
					return true
				}
			}
		}
	}
	return false
}
