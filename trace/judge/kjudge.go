package judge

import (
	"net/netip"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// The kernel's own decisions (issue 19), judged from Facts.Kernel alone: a
// failed probe's verdict is replaced when a bridge, a per-interface
// setting or a neighbour entry on its path explains it, and its fix is
// moved into the table the deciding policy rule consults.

// judgeKernel explains failed probe p from the kernel facts, given the
// verdict v the path and the firewall gave it; ok false keeps v. The
// checks run in order; the first that explains p gives its verdict.
func judgeKernel(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if f.Kernel == nil || p.OK {
		return v, false
	}
	return checkKernel(f, p, v)
}

// checkKernel runs the kernel-state checks in order; the first that
// explains p gives its verdict.
func checkKernel(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	for _, check := range []func(*facts.Facts, facts.ProbeFacts, Verdict) (Verdict, bool){
		unusableAddress, macvlanMode, vxlanMismatch, routingLoop, policyUplink, bridgeFault, bridgeNetfilter, wrongNeighbor, ownedTwice, arpIgnored, arpFiltered, proxyARPOff, unownedGateway, misdirected, ifaceForwarding, ifaceForwarding6, reversePath, echoIgnored, loopbackListener, policyTable,
	} {
		if kv, ok := check(f, p, v); ok {
			return kv, true
		}
	}
	return v, false
}

// kernelVerdict is a verdict blaming ns, told after the story of v.
func kernelVerdict(p facts.ProbeFacts, v Verdict, cause facts.Cause, ns, detail, fix string) Verdict {
	if v.Story != "" {
		detail = v.Story + ": " + detail
	}
	return Verdict{Cause: cause, Namespace: ns, Detail: detail, Fix: fix, Story: v.Story, RouteGet: routeGetIn(p, ns)}
}

// kernelVerdictBlaming is rv (a rule's verdict) told after the story of
// v, with detail in place of rv's own.
func kernelVerdictBlaming(p facts.ProbeFacts, v, rv Verdict, detail string) Verdict {
	nv := kernelVerdict(p, v, rv.Cause, rv.Namespace, detail, rv.Fix)
	nv.blamed = rv.blamed
	return nv
}

// legs are p's two ways: the request's path and the answer's.
func legs(p facts.ProbeFacts) [][]facts.Hop { return [][]facts.Hop{p.Path, p.Back} }

// anyLookup is a recorded lookup in ks for dst, whatever it arrived on.
func anyLookup(ks *facts.KernelState, dst netip.Addr) *facts.RuleLookup {
	if ks == nil {
		return nil
	}
	for i := range ks.Lookups {
		if ks.Lookups[i].Dst == dst {
			return &ks.Lookups[i]
		}
	}
	return nil
}

// addressOwners maps each address of the recorded namespaces to the first
// namespace state holding it (read after the probes first), so a
// neighbour entry's owner is found without a walk of every state.
func addressOwners(f *facts.Facts) map[netip.Addr]*nsstate.NamespaceState {
	m := map[netip.Addr]*nsstate.NamespaceState{}
	for _, sts := range [][]*nsstate.NamespaceState{f.After, f.Namespaces} {
		for _, st := range sts {
			for _, l := range st.Links {
				for _, a := range l.Addresses {
					if _, ok := m[a.Addr()]; !ok {
						m[a.Addr()] = st
					}
				}
			}
		}
	}
	return m
}
