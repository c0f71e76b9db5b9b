// Package topology owns the lab's shape in the kernel: named network
// namespaces, veth pairs, addresses, routes, route lookups and the inspection
// of all of them.
//
// Exactly one function in this package moves an OS thread between network
// namespaces (see Do). Everything netlink does in a namespace goes through a
// handle whose socket was made inside Do (netlinkIn), so callers never change
// namespace and no library switches a thread behind nsdump's back. A program
// that must run inside a namespace enters it through the descriptor nsdump
// holds (OutputIn: nsenter --net=/proc/self/fd/3), never by its name.
package topology
