package topology

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrConflict marks an existing object that contradicts the lab asked for.
var ErrConflict = errors.New("conflicts with the lab")

// Lab names the two namespaces, the veth pair joining them and the address
// on each end: the walkthrough's topology.
type Lab struct {
	NS0, NS1     string
	Veth0, Veth1 string
	Addr0, Addr1 netip.Prefix
}

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
	for _, p := range []netip.Prefix{l.Addr0, l.Addr1} {
		if _, err := ParseInterfacePrefix(p.String()); err != nil {
			return err
		}
	}
	if l.Addr0.Addr() == l.Addr1.Addr() {
		return fmt.Errorf("both ends have address %s", l.Addr0.Addr())
	}
	return nil
}

// Route0 is the route `ip -n NS0 route add` adds: NS1's subnet via Veth0.
func (l Lab) Route0() netip.Prefix { return l.Addr1.Masked() }

// Route1 is the route back from NS1 to NS0's subnet via Veth1.
func (l Lab) Route1() netip.Prefix { return l.Addr0.Masked() }

// RouteCommands returns the iproute2 commands that add the lab's routes, in
// NS0 then NS1: the walkthrough's fix.
func (l Lab) RouteCommands() [2]string {
	return [2]string{
		RouteAddCommand(l.NS0, l.Route0(), l.Veth0),
		RouteAddCommand(l.NS1, l.Route1(), l.Veth1),
	}
}

// RouteAddCommand is the iproute2 command that adds a device route.
func RouteAddCommand(ns string, dst netip.Prefix, dev string) string {
	return fmt.Sprintf("ip -n %s route add %s dev %s", ns, dst, dev)
}
