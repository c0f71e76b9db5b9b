// Package judge is the pure half of trace: the judgement of the facts a
// trace gathers (package facts). Judge gives a probe its verdict from
// the facts alone, so facts recorded by a trace are judged again
// anywhere, without root, on any system (nsdump read).
//
// Package rules, enforced by TestJudgeImportsOnlyFactsAndStdlib: judge
// imports the standard library, facts, and the value packages facts is
// built on, each of the standard library only: topology/nsstate (the
// gathered state's plain values) and cmdline (the commands it prints,
// quoted); topology/names only as facts does. No topology, capture,
// decode or drops, and nothing of the standard library that reaches the
// system (os, os/exec, syscall, net). What the live trace learns goes
// into facts before any judging; what it could not learn goes in too
// (facts.Gap). The listings of firewall rules are parsed here
// (ParseRuleset, ParseIptablesSave): parsing is pure, and trace only
// runs the tools. A new cause is a new judgement over facts plus, when
// it needs evidence nothing gathers yet, a new fact in package facts.
package judge
