package judge

import (
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/internal/tracetest"
)

// TestKernelFactsDecide: in every recording of the kernel-state matrix,
// the kernel facts are what the verdicts rest on: judged without them, a
// failed probe gets another verdict (the one issue 19 reported wrong), or
// a detail that names the setting.
func TestKernelFactsDecide(t *testing.T) {
	n := 0
	for name, rec := range tracetest.LoadRecorded(t) {
		if !strings.HasPrefix(name, "kstate-") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			if rec.Facts.Kernel == nil {
				t.Fatal("recorded without kernel facts")
			}
			bare := *rec.Facts
			bare.Kernel = nil
			changed, failed := false, false
			for _, pf := range rec.Facts.Probes {
				with, without := Judge(rec.Facts, pf), Judge(&bare, pf)
				failed = failed || !with.OK
				if with.Cause != without.Cause || with.Namespace != without.Namespace || with.Fix != without.Fix || with.Detail != without.Detail {
					changed = true
				}
			}
			if !failed {
				// A setting that decides nothing (IPv6 forwarding off on one
				// interface): all ok, with or without it.
				return
			}
			if !changed {
				t.Error("every verdict is the same without the kernel facts")
			}
		})
	}
	if n == 0 {
		t.Fatal("no kstate- recordings (go test -run TestKernelStateMatrix -update, as root)")
	}
}

// TestBridgeDropAgreesWithNeighbourDrops: a bridge port that forwards
// nothing keeps ARP from crossing; the namespace that asked gives up and
// drops what it queued (NEIGH_FAILED). That drop fits the verdict on the
// bridge, which a slow machine's longer trace lives to see.
func TestBridgeDropAgreesWithNeighbourDrops(t *testing.T) {
	path := []facts.Hop{{Namespace: "a", Out: "a0", Role: facts.RoleSource}, {Namespace: "m", In: "pa", Out: "pb", Role: facts.RoleBridge}, {Namespace: "b", In: "b0", Role: facts.RoleDestination}}
	f := &facts.Facts{Kernel: &facts.KernelFacts{States: []facts.KernelState{{Namespace: "m", Bridges: []nsstate.Bridge{{Name: "br0", Up: true, Carrier: true,
		Ports: []nsstate.BridgePort{{Name: "pa", Up: true, Carrier: true, State: nsstate.PortForwarding}, {Name: "pb", Up: true, Carrier: true, State: nsstate.PortListening}}}}}}}}
	p := facts.ProbeFacts{From: "a", To: "b", Path: path}
	v, ok := bridgeFault(f, p, Verdict{Cause: facts.CauseDropped, Namespace: "m"})
	if !ok || v.Cause != facts.CauseDropped || v.Namespace != "m" || !strings.Contains(v.Detail, "port pb of bridge br0 in m is in STP state listening") {
		t.Fatalf("%v %+v: want the listening port named", ok, v)
	}
	if say := kernelSaysOtherwise(v, []facts.KernelDropSeen{{Namespace: "a", Reason: "NEIGH_FAILED", Location: "neigh_invalidate"}}); say != "" {
		t.Errorf("A's NEIGH_FAILED drop: %q, want it to fit", say)
	}
	if say := kernelSaysOtherwise(v, []facts.KernelDropSeen{{Namespace: "b", Reason: "NETFILTER_DROP", Location: "nf_hook_slow"}}); say == "" {
		t.Error("a firewall drop in B fits a verdict on M's bridge port")
	}
}

// TestLoopFromRevisits: a loop is named from the request's packets seen
// again in the cycle with a lower hop limit, when no ICMP time exceeded
// was captured (the kernel rate-limits them); without either, the
// recorded lookups alone name no loop.
func TestLoopFromRevisits(t *testing.T) {
	rec, ok := tracetest.LoadRecorded(t)["kstate-routing-loop-IPv6"]
	if !ok {
		t.Fatal("no kstate-routing-loop-IPv6 recording (go test -run TestRoutingLoop/IPv6 -update, as root)")
	}
	n := 0
	for _, pf := range rec.Facts.Probes {
		if len(pf.Revisits) == 0 {
			continue
		}
		n++
		pf.Errors = nil
		v := Judge(rec.Facts, pf)
		if v.Cause != facts.CauseLoop || !strings.Contains(v.Detail, "the same packet seen again") || !strings.Contains(v.Detail, "with hop limit") || strings.Contains(v.Detail, "ICMP time exceeded") {
			t.Errorf("%s %s without ICMP errors: %s in %s (%s), want a loop named from the packet seen again", pf.Direction, pf.Kind, v.Cause, v.Namespace, v.Detail)
		}
		pf.Revisits, pf.RequestSeen = nil, pf.RequestSeen[:1] // seen leaving the sender only
		if v := Judge(rec.Facts, pf); v.Cause == facts.CauseLoop {
			t.Errorf("%s %s with no evidence of the cycle: still a loop (%s)", pf.Direction, pf.Kind, v.Detail)
		}
	}
	if n == 0 {
		t.Fatal("no probe of the recording has a packet seen again")
	}
}
