package judge

import (
	"encoding/json"
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

// TestARPFilterDecides: in the arp_filter recording, B is blamed for
// arp_filter only while the facts hold what arp.c's arp_filter checks:
// arp_filter on b0 (its own or all's), and B's route back to the asker
// leaving by another interface. Edited away, either, it is not named.
func TestARPFilterDecides(t *testing.T) {
	rec, ok := tracetest.LoadRecorded(t)["kstate-arp_filter-in-B-whose-route-back-to-A-leaves-by-another-link"]
	if !ok {
		t.Fatal("no arp_filter recording (go test -run TestKernelSettingsMatrix/kstate_arp_filter -update, as root)")
	}
	b := rec.Facts.Probes[0].To
	for _, tt := range []struct {
		name  string
		edit  func(ks *facts.KernelState)
		named bool
	}{
		{"as recorded", func(*facts.KernelState) {}, true},
		{"arp_filter on all only", func(ks *facts.KernelState) {
			ks.Settings.Interface("b0").IPv4.ARPFilter, ks.Settings.All.ARPFilter = 0, 1
		}, true},
		{"arp_filter off", func(ks *facts.KernelState) { ks.Settings.Interface("b0").IPv4.ARPFilter = 0 }, false},
		{"route back by b0", func(ks *facts.KernelState) {
			for i := range ks.Lookups {
				if ks.Lookups[i].Route != nil && ks.Lookups[i].Route.Dev == "b1" {
					r := *ks.Lookups[i].Route
					r.Dev = "b0"
					ks.Lookups[i].Route = &r
				}
			}
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var f facts.Facts // a fresh copy: an edit must not leak into another case
			if b, err := json.Marshal(rec.Facts); err != nil || json.Unmarshal(b, &f) != nil {
				t.Fatal("copy the recorded facts:", err)
			}
			ks := f.KernelIn(b)
			if ks == nil || ks.Settings == nil || ks.Settings.Interface("b0") == nil {
				t.Fatal("no settings of b0 recorded in B")
			}
			tt.edit(ks)
			for _, pf := range f.Probes {
				if pf.Kind == facts.KindMTU {
					continue // sent only when the echo passed
				}
				v := Judge(&f, pf)
				named := strings.Contains(v.Detail, "arp_filter is on")
				if named != tt.named || tt.named && (v.Cause != facts.CauseNeighbor || v.Namespace != b || !strings.Contains(v.Fix, "arp_filter=0")) {
					t.Errorf("%s %s: %s in %s (%s), fix %q; arp_filter named %v, want %v", pf.Direction, pf.Kind, v.Cause, v.Namespace, v.Detail, v.Fix, named, tt.named)
				}
				if tt.name == "arp_filter on all only" && !strings.Contains(v.Fix, "net.ipv4.conf.all.arp_filter=0") {
					t.Errorf("%s %s: fix %q leaves all's arp_filter on", pf.Direction, pf.Kind, v.Fix)
				}
			}
		})
	}
}

// TestAcceptLocalDecides: in the recording of A's address left on M, A's
// unanswered ARP question is blamed on M's martian-source check only
// while accept_local is off on pa; on (edited), M would have answered,
// and the verdict does not say it took A for a martian source.
func TestAcceptLocalDecides(t *testing.T) {
	rec, ok := tracetest.LoadRecorded(t)["kstate-A-s-address-left-behind-on-the-router-M"]
	if !ok {
		t.Fatal("no recording of A's address on M (go test -run TestKernelSettingsMatrix/kstate_A -update, as root)")
	}
	for _, on := range []int{0, 1} {
		var f facts.Facts
		if b, err := json.Marshal(rec.Facts); err != nil || json.Unmarshal(b, &f) != nil {
			t.Fatal("copy the recorded facts:", err)
		}
		pf := f.Probes[0]
		m := pf.Path[1].Namespace
		ks := f.KernelIn(m)
		if pf.Path[0].Namespace != pf.From || ks == nil || ks.Settings == nil || ks.Settings.Interface("pa") == nil {
			t.Fatalf("first probe %s: no settings of pa in its second hop %s", pf.Direction, m)
		}
		ks.Settings.Interface("pa").IPv4.AcceptLocal = on
		v := Judge(&f, pf)
		martian := strings.Contains(v.Detail, "for a martian source (accept_local is 0 on pa)")
		if martian != (on == 0) || on == 0 && (v.Cause != facts.CauseConflict || v.Namespace != m || !strings.Contains(v.Fix, "addr del ")) {
			t.Errorf("accept_local %d: %s in %s (%s), fix %q", on, v.Cause, v.Namespace, v.Detail, v.Fix)
		}
	}
}

// TestFloodDecides: in the recording of a bridge port with learning and
// flooding off, the port is blamed only while the facts hold both off and
// no FDB entry for the MAC behind it; edited, any of them, it is not.
func TestFloodDecides(t *testing.T) {
	rec, ok := tracetest.LoadRecorded(t)["kstate-bridge-port-with-learning-and-flooding-off"]
	if !ok {
		t.Fatal("no recording (go test -run TestKernelSettingsMatrix/kstate_bridge_port_with_learning -update, as root)")
	}
	for _, tt := range []struct {
		name  string
		edit  func(ks *facts.KernelState, b *nsstate.Bridge, mac string)
		named bool
	}{
		{"as recorded", func(*facts.KernelState, *nsstate.Bridge, string) {}, true},
		{"flooding on", func(_ *facts.KernelState, b *nsstate.Bridge, _ string) { b.Port("pb").Flood = true }, false},
		{"learning on", func(_ *facts.KernelState, b *nsstate.Bridge, _ string) { b.Port("pb").Learning = true }, false},
		{"an entry learned", func(ks *facts.KernelState, b *nsstate.Bridge, mac string) {
			ks.FDB = append(ks.FDB, nsstate.BridgeFDBEntry{MAC: mac, Port: "pb", Bridge: b.Name})
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var f facts.Facts
			if b, err := json.Marshal(rec.Facts); err != nil || json.Unmarshal(b, &f) != nil {
				t.Fatal("copy the recorded facts:", err)
			}
			pf := f.Probes[0]
			m, b := pf.Path[1].Namespace, pf.Path[2]
			ks := f.KernelIn(m)
			br := ks.BridgeOf("pb")
			st := f.State(b.Namespace)
			if br == nil || br.Port("pb") == nil || st == nil || st.Link(b.In) == nil {
				t.Fatalf("no bridge of pb in %s, or no %s in %s", m, b.In, b.Namespace)
			}
			mac := st.Link(b.In).MAC
			tt.edit(ks, br, mac)
			for _, pf := range f.Probes {
				if pf.Kind == facts.KindMTU {
					continue
				}
				v := Judge(&f, pf)
				named := strings.Contains(v.Detail, "has learning and flooding off")
				if named != tt.named || named && (v.Cause != facts.CauseDropped || v.Namespace != m || !strings.Contains(v.Fix, "bridge link set dev pb learning on flood on")) {
					t.Errorf("%s %s: %s in %s (%s), fix %q; named %v, want %v", pf.Direction, pf.Kind, v.Cause, v.Namespace, v.Detail, v.Fix, named, tt.named)
				}
			}
		})
	}
}

// TestRPFilterARPFitsNeighbourDrops: a router whose strict rp_filter
// refuses the sender's ARP leaves the sender's neighbour entry to fail;
// the sender's NEIGH_FAILED drop of what it queued, which a trace on a
// loaded machine lasts long enough to see, fits the verdict on the router.
func TestRPFilterARPFitsNeighbourDrops(t *testing.T) {
	rec, ok := tracetest.LoadRecorded(t)["kstate-rp_filter-in-a-router-with-an-asymmetric-route"]
	if !ok {
		t.Fatal("no recording (go test -run TestKernelStateMatrix/kstate_rp_filter_in_a_router -update, as root)")
	}
	pf := rec.Facts.Probes[0]
	before := Judge(rec.Facts, pf)
	if before.Cause != facts.CauseDropped || !strings.Contains(before.Detail, "its ARP requests included") {
		t.Fatalf("%s %s as recorded: %s in %s (%s), want rp_filter refusing ARP", pf.Direction, pf.Kind, before.Cause, before.Namespace, before.Detail)
	}
	pf.Drops = append(pf.Drops, facts.KernelDropSeen{Namespace: pf.From, Reason: "NEIGH_FAILED", Location: "neigh_invalidate", What: "echo request"})
	if v := Judge(rec.Facts, pf); v.Cause != before.Cause || v.Namespace != before.Namespace || strings.Contains(v.Detail, "the kernel says otherwise") {
		t.Errorf("with %s's NEIGH_FAILED drop: %s in %s (%s)", pf.From, v.Cause, v.Namespace, v.Detail)
	}
	pf.Drops[len(pf.Drops)-1].Namespace = before.Namespace + "x"
	if v := Judge(rec.Facts, pf); !strings.Contains(v.Detail, "the kernel says otherwise") {
		t.Errorf("a NEIGH_FAILED drop in a namespace that asked nothing fits: %s", v.Detail)
	}
}
