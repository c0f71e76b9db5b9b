// Package trace is nsdump's main job: it captures both namespaces, probes
// from each to the other (ICMP echo and a TCP connect that carries a test
// message) from sockets made inside the namespaces, then joins what the
// captures saw with route lookups and link state into one verdict per probe:
// the cause, the namespace where it lies, the lookup done there and the fix.
package trace
