package topology

import (
	"encoding/json"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
	"golang.org/x/sys/unix"
)

func TestNeighState(t *testing.T) {
	tests := []struct {
		state      nsstate.NeighState
		kernel     int
		text       string
		unresolved bool
	}{
		{nsstate.NeighIncomplete, unix.NUD_INCOMPLETE, "INCOMPLETE", true},
		{nsstate.NeighReachable, unix.NUD_REACHABLE, "REACHABLE", false},
		{nsstate.NeighStale, unix.NUD_STALE, "STALE", false},
		{nsstate.NeighDelay, unix.NUD_DELAY, "DELAY", false},
		{nsstate.NeighProbe, unix.NUD_PROBE, "PROBE", false},
		{nsstate.NeighFailed, unix.NUD_FAILED, "FAILED", true},
		{nsstate.NeighNoARP, unix.NUD_NOARP, "NOARP", false},
		{nsstate.NeighPermanent, unix.NUD_PERMANENT, "PERMANENT", false},
		{0, unix.NUD_NONE, "0", false},
		{nsstate.NeighReachable | nsstate.NeighNoARP, unix.NUD_REACHABLE | unix.NUD_NOARP, "66", false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if int(tt.state) != tt.kernel {
				t.Errorf("%s is %#x, the kernel's %#x", tt.text, int(tt.state), tt.kernel)
			}
			if tt.state.String() != tt.text || tt.state.Unresolved() != tt.unresolved {
				t.Errorf("%#x: %q unresolved=%v, want %q %v", int(tt.state), tt.state, tt.state.Unresolved(), tt.text, tt.unresolved)
			}
			b, err := json.Marshal(nsstate.NeighborEntry{State: tt.state})
			if err != nil {
				t.Fatal(err)
			}
			var back nsstate.NeighborEntry
			if err := json.Unmarshal(b, &back); err != nil || back.State != tt.state {
				t.Errorf("%s: read back %v, %v", b, back.State, err)
			}
		})
	}
	var e nsstate.NeighborEntry
	if err := json.Unmarshal([]byte(`{"state": "GONE"}`), &e); err == nil {
		t.Errorf("state GONE read as %v", e.State)
	}
}
