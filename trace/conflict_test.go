package trace

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology"
)

func TestJudgeConflict(t *testing.T) {
	addr := netip.MustParseAddr("10.97.0.2")
	pfx := netip.MustParsePrefix("10.97.0.2/24")
	owner := &topology.NamespaceState{Name: "B", Links: []topology.LinkState{{Name: "b0", MAC: "02:00:00:00:00:0b", Addresses: []netip.Prefix{pfx}}}}
	imp := &topology.NamespaceState{Name: "C", Links: []topology.LinkState{{Name: "c0", MAC: "02:00:00:00:00:0c", Addresses: []netip.Prefix{pfx}}}}
	other := &topology.NamespaceState{Name: "D", Links: []topology.LinkState{{Name: "d0", MAC: "02:00:00:00:00:0c"}}}
	asker := func(mac string, state topology.NeighState) *topology.NamespaceState {
		return &topology.NamespaceState{Name: "A", Neighbors: []topology.NeighborEntry{{Dev: "a0", Addr: addr, MAC: mac, State: state}}}
	}
	tests := []struct {
		name  string
		asker *topology.NamespaceState
		cands []*topology.NamespaceState
		ok    bool
	}{
		{"the impostor's MAC", asker("02:00:00:00:00:0c", topology.NeighReachable), []*topology.NamespaceState{imp}, true},
		{"the owner's MAC", asker("02:00:00:00:00:0b", topology.NeighReachable), []*topology.NamespaceState{imp}, false},
		{"a failed entry", asker("", topology.NeighFailed), []*topology.NamespaceState{imp}, false},
		{"the MAC's holder lacks the address", asker("02:00:00:00:00:0c", topology.NeighStale), []*topology.NamespaceState{other}, false},
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
