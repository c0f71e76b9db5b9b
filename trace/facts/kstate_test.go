package facts

import (
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

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
