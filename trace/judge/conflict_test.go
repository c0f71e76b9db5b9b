package judge

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

func TestJudgeConflict(t *testing.T) {
	addr := netip.MustParseAddr("10.97.0.2")
	pfx := netip.MustParsePrefix("10.97.0.2/24")
	owner := &nsstate.NamespaceState{Name: "B", Links: []nsstate.LinkState{{Name: "b0", MAC: "02:00:00:00:00:0b", Addresses: []netip.Prefix{pfx}}}}
	imp := &nsstate.NamespaceState{Name: "C", Links: []nsstate.LinkState{{Name: "c0", MAC: "02:00:00:00:00:0c", Addresses: []netip.Prefix{pfx}}}}
	other := &nsstate.NamespaceState{Name: "D", Links: []nsstate.LinkState{{Name: "d0", MAC: "02:00:00:00:00:0c"}}}
	asker := func(mac string, state nsstate.NeighState) *nsstate.NamespaceState {
		return &nsstate.NamespaceState{Name: "A", Neighbors: []nsstate.NeighborEntry{{Dev: "a0", Addr: addr, MAC: mac, State: state}}}
	}
	tests := []struct {
		name  string
		asker *nsstate.NamespaceState
		cands []*nsstate.NamespaceState
		ok    bool
	}{
		{"the impostor's MAC", asker("02:00:00:00:00:0c", nsstate.NeighReachable), []*nsstate.NamespaceState{imp}, true},
		{"the owner's MAC", asker("02:00:00:00:00:0b", nsstate.NeighReachable), []*nsstate.NamespaceState{imp}, false},
		{"a failed entry", asker("", nsstate.NeighFailed), []*nsstate.NamespaceState{imp}, false},
		{"the MAC's holder lacks the address", asker("02:00:00:00:00:0c", nsstate.NeighStale), []*nsstate.NamespaceState{other}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := judgeConflict(tt.asker, owner, addr, tt.cands)
			if ok != tt.ok {
				t.Fatalf("ok=%v, want %v: %+v", ok, tt.ok, c)
			}
			if !ok {
				return
			}
			detail, fix := c.verdict()
			if fix != "ip -n C addr del 10.97.0.2/24 dev c0 && ip -n A neigh del 10.97.0.2 dev a0" || !strings.Contains(detail, "C/c0 (MAC 02:00:00:00:00:0c) also holds 10.97.0.2") {
				t.Errorf("detail %q fix %q", detail, fix)
			}
		})
	}
}
