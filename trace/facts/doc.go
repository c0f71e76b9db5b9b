// Package facts is the typed evidence a trace gathers and its JSON: the
// namespaces on the paths and their route lookups, firewall rules, the
// kernel's counters, drops and state, what nftables tracing and conntrack
// said, what each probe's socket said and where its packets were seen,
// and what gathering could not read (Gap). A -w file stores them as a
// Record, which ReadRecord reads back and bounds, so that facts recorded
// anywhere are judged again anywhere (package judge).
//
// Package rules, enforced by TestFactsImportOnlyValues: facts are values.
// They import the standard library and, of nsdump, only packages that are
// values themselves and import the standard library alone:
// topology/nsstate (the gathered state's plain values, which Facts
// holds), topology/names and cmdline (a stored file's names are checked
// as the commands a verdict prints would take them, Unpasteable). Nothing
// that reaches the system (os, os/exec, syscall, net), nothing of
// topology, capture, decode, drops or the judgement. A method here reads
// the facts back (State, LookupIn, KernelIn); what the facts mean is
// judge's. A new fact is a field with a JSON name that an old file may
// omit, so every recording judges as it did.
package facts
