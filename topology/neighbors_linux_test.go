package topology

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

// TestNeighbors: B learns A by a ping; then A holds a PERMANENT entry with
// a wrong MAC for B's address and one for an address nobody owns.
func TestNeighbors(t *testing.T) {
	a, b := ksNamespace(t), ksNamespace(t)
	run(t, "ip", "-n", a.Name, "link", "add", "n0", "type", "veth", "peer", "name", "n1", "netns", b.Name)
	run(t, "ip", "-n", a.Name, "addr", "add", "10.78.0.1/24", "dev", "n0")
	run(t, "ip", "-n", b.Name, "addr", "add", "10.78.0.2/24", "dev", "n1")
	run(t, "ip", "-n", a.Name, "link", "set", "n0", "up")
	run(t, "ip", "-n", b.Name, "link", "set", "n1", "up")
	inNS(t, b, "ping", "-c1", "-W10", "10.78.0.1")
	run(t, "ip", "-n", a.Name, "neigh", "replace", "10.78.0.2", "lladdr", "02:00:00:00:00:99", "dev", "n0", "nud", "permanent")
	run(t, "ip", "-n", a.Name, "neigh", "replace", "10.78.0.7", "lladdr", "02:00:00:00:00:77", "dev", "n0", "nud", "permanent")
	for _, ns := range []Held{a, b} {
		compareNeighbors(t, ns)
	}
	states := gather(t, a, b)
	tests := []struct {
		name      string
		addr, mac string
		owner     string
		wrong     bool
	}{
		{"wrong MAC", "10.78.0.2", "02:00:00:00:00:99", b.Name, true},
		{"owner's MAC", "10.78.0.2", states[1].Link("n1").MAC, b.Name, false},
		{"nobody's address", "10.78.0.7", "02:00:00:00:00:77", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, "ip", "-n", a.Name, "neigh", "replace", tt.addr, "lladdr", tt.mac, "dev", "n0", "nud", "permanent")
			es, err := Neighbors(a)
			if err != nil {
				t.Fatal(err)
			}
			e := findNeighbor(es, tt.addr)
			if e == nil {
				t.Fatalf("no entry for %s in %v", tt.addr, es)
			}
			c := nsstate.CheckNeighbor(*e, states)
			if c.OwnerNamespace != tt.owner || c.Wrong != tt.wrong {
				t.Errorf("CheckNeighbor = %+v; want owner %q wrong %v", c, tt.owner, tt.wrong)
			}
			if tt.owner != "" && c.OwnerMAC != states[1].Link("n1").MAC {
				t.Errorf("owner MAC %s; n1 has %s", c.OwnerMAC, states[1].Link("n1").MAC)
			}
		})
	}
}

func gather(t *testing.T, nss ...Held) []nsstate.NamespaceState {
	t.Helper()
	var out []nsstate.NamespaceState
	for _, ns := range nss {
		st, err := GatherState(ns.Name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *st)
	}
	return out
}

func findNeighbor(es []nsstate.NeighborEntry, addr string) *nsstate.NeighborEntry {
	for i := range es {
		if es[i].Addr == netip.MustParseAddr(addr) {
			return &es[i]
		}
	}
	return nil
}

// compareNeighbors checks Neighbors with `ip -j neigh`: address, device,
// MAC and state of every entry.
func compareNeighbors(t *testing.T, ns Held) {
	t.Helper()
	var ref []struct {
		Dst, Dev, Lladdr string
		State            []string
	}
	var es []nsstate.NeighborEntry
	// Learned entries age (REACHABLE to STALE) while the test reads:
	// compare when two reads around ip's agree.
	pollUntil(t, "a quiet neighbour table in "+ns.Name, func() bool {
		before, err := Neighbors(ns)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(run(t, "ip", "-n", ns.Name, "-j", "neigh")), &ref); err != nil {
			t.Fatal(err)
		}
		if es, err = Neighbors(ns); err != nil {
			t.Fatal(err)
		}
		return slices.Equal(before, es) && len(es) == len(ref)
	})
	if len(es) == 0 {
		t.Errorf("%s: no neighbour entries", ns.Name)
	}
	for _, r := range ref {
		e := findNeighbor(es, r.Dst)
		if e == nil || e.Dev != r.Dev || e.MAC != r.Lladdr || e.State.String() != strings.Join(r.State, " ") {
			t.Errorf("%s: ip neigh shows %+v; Neighbors %+v", ns.Name, r, e)
		}
	}
}
