package judge

import (
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

// TestKernelFactsDecide: in every recording of the kernel-state matrix,
// the kernel facts are what the verdicts rest on: judged without them, a
// failed probe gets another verdict (the one issue 19 reported wrong).
func TestKernelFactsDecide(t *testing.T) {
	n := 0
	for name, rec := range loadRecorded(t) {
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
			changed := false
			for _, pf := range rec.Facts.Probes {
				with, without := Judge(rec.Facts, pf), Judge(&bare, pf)
				if with.Cause != without.Cause || with.Namespace != without.Namespace || with.Fix != without.Fix {
					changed = true
				}
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

// TestKernelFactsBounded: stored kernel facts larger than a trace gathers
// are refused before judging.
func TestKernelFactsBounded(t *testing.T) {
	tests := []struct {
		name string
		kf   *KernelFacts
		ok   bool
	}{
		{"none", nil, true},
		{"small", &KernelFacts{States: []KernelState{{Namespace: "a", Neighbors: make([]nsstate.NeighborEntry, 3)}}}, true},
		{"too many neighbours", &KernelFacts{States: []KernelState{{Namespace: "a", Neighbors: make([]nsstate.NeighborEntry, maxEntries+1)}}}, false},
		{"too many namespaces", &KernelFacts{States: make([]KernelState, maxStates+1)}, false},
		{"too many bridge ports", &KernelFacts{States: []KernelState{{Namespace: "a", Bridges: []nsstate.Bridge{{Ports: make([]nsstate.BridgePort, maxEntries)}}}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&Facts{Kernel: tt.kf}).check()
			if (err == nil) != tt.ok {
				t.Errorf("check: %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestBridgeDropAgreesWithNeighbourDrops: a bridge port that forwards
// nothing keeps ARP from crossing; the namespace that asked gives up and
// drops what it queued (NEIGH_FAILED). That drop fits the verdict on the
// bridge, which a slow machine's longer trace lives to see.
func TestBridgeDropAgreesWithNeighbourDrops(t *testing.T) {
	path := []Hop{{Namespace: "a", Out: "a0", Role: RoleSource}, {Namespace: "m", In: "pa", Out: "pb", Role: RoleBridge}, {Namespace: "b", In: "b0", Role: RoleDestination}}
	f := &Facts{Kernel: &KernelFacts{States: []KernelState{{Namespace: "m", Bridges: []nsstate.Bridge{{Name: "br0", Up: true, Carrier: true,
		Ports: []nsstate.BridgePort{{Name: "pa", Up: true, Carrier: true, State: nsstate.PortForwarding}, {Name: "pb", Up: true, Carrier: true, State: nsstate.PortListening}}}}}}}}
	p := ProbeFacts{From: "a", To: "b", Path: path}
	v, ok := bridgeFault(f, p, Verdict{Cause: CauseDropped, Namespace: "m"})
	if !ok || v.Cause != CauseDropped || v.Namespace != "m" || !strings.Contains(v.Detail, "port pb of bridge br0 in m is in STP state listening") {
		t.Fatalf("%v %+v: want the listening port named", ok, v)
	}
	if say := kernelSaysOtherwise(v, []KernelDropSeen{{Namespace: "a", Reason: "NEIGH_FAILED", Location: "neigh_invalidate"}}); say != "" {
		t.Errorf("A's NEIGH_FAILED drop: %q, want it to fit", say)
	}
	if say := kernelSaysOtherwise(v, []KernelDropSeen{{Namespace: "b", Reason: "NETFILTER_DROP", Location: "nf_hook_slow"}}); say == "" {
		t.Error("a firewall drop in B fits a verdict on M's bridge port")
	}
}
