// Package judge is the pure half of trace: the facts a trace gathers (the
// typed evidence and its JSON, the record a -w file stores) and their
// judgement. Judge gives a probe its verdict from the facts alone, so
// facts recorded by a trace are judged again anywhere, without root, on
// any system (nsdump read).
//
// Package rules, enforced by TestJudgeImportsOnlyFactsAndStdlib: judge
// imports the standard library and three packages of the standard library
// only themselves: topology/nsstate (the gathered state's plain values),
// topology/names (which names a command can carry) and cmdline (the
// commands it prints, quoted); no topology, capture, decode or drops, and
// nothing of the standard library that reaches the system (os, os/exec,
// syscall, net). What the live trace learns goes into Facts before any judging;
// what it could not learn goes in too. The listings of firewall rules are
// parsed here (ParseRuleset, ParseIptablesSave): parsing is pure, and
// trace only runs the tools. A new cause is a new judgement over facts
// plus, when it needs evidence nothing gathers yet, a new fact.
package judge
