// Package topology owns the lab's shape in the kernel: named network
// namespaces, veth pairs, addresses, routes, route lookups and the inspection
// of all of them.
//
// Exactly one function in this package moves an OS thread between network
// namespaces (see Do). Everything netlink does in a namespace goes through a
// handle bound to it (netlink.NewHandleAt), so callers never change namespace.
package topology
