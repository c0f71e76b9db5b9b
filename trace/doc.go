// Package trace is nsdump's main job, live: it captures every namespace on
// the way (capture), probes from each end to the other (ICMP echo, large
// echoes with DF, and a TCP connect that carries a test message) from
// sockets made inside the namespaces, records the kernel's drops (drops),
// decodes what was captured (decode), and gathers the state the verdicts
// depend on into facts.Facts: links, routes and route lookups, firewall
// rules, counters, and where each probe's packets were seen. judge.Judge
// then gives each probe its verdict: the cause, the namespace where it
// lies, the lookup done there and the fix.
//
// Package rules: everything that reads the kernel or runs a program lives
// here or below (topology, capture, drops); nothing here decides a verdict.
// The facts are package facts', the verdicts judge's; a trace's Result
// carries them under their own names. A trace's result and the record of
// a -w file (result.go, record.go) build on every system, for nsdump
// read; all that reaches the kernel is in _linux.go files.
package trace
