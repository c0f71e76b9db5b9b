package judge

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/internal/tracetest"
)

// TestJudgeRecorded judges recorded facts again, without root: every
// probe, healthy or not, on a path through other namespaces or between
// two, gets the verdict the live trace gave, detail included.
func TestJudgeRecorded(t *testing.T) {
	for name, rec := range tracetest.LoadRecorded(t) {
		t.Run(name, func(t *testing.T) {
			if len(rec.Facts.Probes) != len(rec.Verdicts) {
				t.Fatalf("%d probes' facts, %d verdicts", len(rec.Facts.Probes), len(rec.Verdicts))
			}
			for i, pf := range rec.Facts.Probes {
				want := rec.Verdicts[i]
				if want.Direction != pf.Direction || want.Kind != pf.Kind || want.Family != pf.Family {
					t.Fatalf("verdict %d is of %s %s IPv%d, facts of %s %s IPv%d", i, want.Direction, want.Kind, want.Family, pf.Direction, pf.Kind, pf.Family)
				}
				v := Judge(rec.Facts, pf)
				if v.OK != want.OK || v.Cause != want.Cause || v.Namespace != want.Namespace || v.Fix != want.Fix || v.Detail != want.Detail {
					t.Errorf("%s %s IPv%d:\n got ok=%v %s in %s, fix %q: %s\nwant ok=%v %s in %s, fix %q: %s", pf.Direction, pf.Kind, pf.Family,
						v.OK, v.Cause, v.Namespace, v.Fix, v.Detail, want.OK, want.Cause, want.Namespace, want.Fix, want.Detail)
				}
			}
		})
	}
}

// factsWorld is a World made of recorded facts.
type factsWorld struct{ f *facts.Facts }

func (w factsWorld) State(ns string) *nsstate.NamespaceState { return w.f.State(ns) }

func (w factsWorld) Route(ns string, dst, from netip.Addr, iif string) facts.Lookup {
	if lk, ok := w.f.Lookup(ns, dst, iif); ok {
		return lk
	}
	return facts.Lookup{Namespace: ns, Dst: dst, Iif: iif, Output: "not recorded"}
}

// TestWalkRecorded discovers the paths again from recorded kernel state:
// the same hops as the live trace found.
func TestWalkRecorded(t *testing.T) {
	for name, rec := range tracetest.LoadRecorded(t) {
		t.Run(name, func(t *testing.T) {
			w := factsWorld{rec.Facts}
			for _, pf := range rec.Facts.Probes {
				if len(pf.Path) == 0 {
					continue
				}
				// Through the rewrites conntrack showed, where the live
				// trace followed them (traces before it did not).
				var dnat []Translation
				if slices.ContainsFunc(pf.Path, func(h facts.Hop) bool { return h.DNATTo.IsValid() }) {
					dnat = probeTranslations(rec.Facts, pf)
				}
				got, _, _ := WalkNAT(w, pf.Path[0].Namespace, pf.Request.Src, pf.Request.Dst, dnat)
				if !reflect.DeepEqual(got, pf.Path) {
					t.Errorf("%s: walked %+v, recorded %+v", pf.Direction, got, pf.Path)
				}
			}
		})
	}
}

// TestJudgeTable: hand-made facts for what the live matrix cannot
// stage reliably.
func TestJudgeTable(t *testing.T) {
	ns := func(name string, links ...nsstate.LinkState) *nsstate.NamespaceState {
		return &nsstate.NamespaceState{Name: name, Links: links, Forwarding4: true}
	}
	addr := func(s string) []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix(s)} }
	path := []facts.Hop{{Namespace: "A", Out: "a0", Role: facts.RoleSource}, {Namespace: "R", In: "r0", Out: "r1", Role: facts.RoleRouter}, {Namespace: "B", In: "b0", Role: facts.RoleDestination}}
	back := []facts.Hop{{Namespace: "B", Out: "b0", Role: facts.RoleSource}, {Namespace: "R", In: "r1", Out: "r0", Role: facts.RoleRouter}, {Namespace: "A", In: "a0", Role: facts.RoleDestination}}
	mkFacts := func() *facts.Facts {
		return &facts.Facts{Namespaces: []*nsstate.NamespaceState{
			ns("A", nsstate.LinkState{Name: "a0", Up: true, Carrier: true, Addresses: addr("10.1.0.2/24")}),
			ns("R", nsstate.LinkState{Name: "r0", Up: true, Carrier: true, Addresses: addr("10.1.0.1/24")},
				nsstate.LinkState{Name: "r1", Up: true, Carrier: true, Addresses: addr("10.2.0.1/24")}),
			ns("B", nsstate.LinkState{Name: "b0", Up: true, Carrier: true, Addresses: addr("10.2.0.2/24")}),
		}}
	}
	src, dst := netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.2.0.2")
	probe := facts.ProbeFacts{Direction: "A->B", Kind: "icmp-echo", Family: 4, Path: path, Back: back,
		Request:     facts.Packet{Family: 4, Proto: "icmp", Src: src, Dst: dst, ICMPType: "echo-request"},
		Answer:      facts.Packet{Family: 4, Proto: "icmp", Src: dst, Dst: src, ICMPType: "echo-reply"},
		RequestSeen: []facts.Sight{{Namespace: "A", Iface: "a0", Dir: facts.DirOut}, {Namespace: "R", Iface: "r0", Dir: facts.DirIn}}}
	tests := []struct {
		name           string
		edit           func(f *facts.Facts, p *facts.ProbeFacts)
		cause          facts.Cause
		namespace, fix string
		detail         string
	}{
		{"r1 down", func(f *facts.Facts, p *facts.ProbeFacts) { f.State("R").Link("r1").Up = false },
			facts.CauseLinkDown, "R", "ip -n R link set r1 up", "r1 in R is down"},
		{"forwarding off", func(f *facts.Facts, p *facts.ProbeFacts) { f.State("R").Forwarding4 = false },
			facts.CauseDropped, "R", "ip netns exec R sysctl -w net.ipv4.ip_forward=1", "never left R: forwarding is off"},
		{"forward drop rule, and one that does not match", func(f *facts.Facts, p *facts.ProbeFacts) {
			f.Rules = []facts.Rule{
				{Namespace: "R", Family: "inet", Table: "t", Chain: "fw", Hook: "forward", Policy: true, Verdict: facts.RuleAccept},
				{Namespace: "R", Family: "inet", Table: "t", Chain: "fw", Hook: "forward", Handle: 4, Verdict: facts.RuleDrop, Text: "tcp dport 22 drop",
					Conds: []facts.Cond{{Key: "tcp dport", Op: "==", Values: []string{"22"}}}},
				{Namespace: "R", Family: "inet", Table: "t", Chain: "fw", Hook: "forward", Handle: 5, Verdict: facts.RuleDrop, Text: "ip daddr 10.2.0.0/24 drop",
					Conds: []facts.Cond{{Key: "ip daddr", Op: "==", Values: []string{"10.2.0.0/24"}}}},
			}
		}, facts.CauseDropped, "R", "ip netns exec R nft delete rule inet t fw handle 5", `"ip daddr 10.2.0.0/24 drop" (inet t fw handle 5`},
		{"rp_filter", func(f *facts.Facts, p *facts.ProbeFacts) {
			f.Lookups = []facts.Lookup{{Namespace: "R", Dst: dst, From: src, Iif: "r0", Output: "RTNETLINK answers: Invalid cross-device link", Errno: "EXDEV"}}
		}, facts.CauseDropped, "R", "ip netns exec R sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.r0.rp_filter=0", "rp_filter"},
		{"input rule at the destination", func(f *facts.Facts, p *facts.ProbeFacts) {
			p.RequestSeen = append(p.RequestSeen, facts.Sight{Namespace: "R", Iface: "r1", Dir: facts.DirOut}, facts.Sight{Namespace: "B", Iface: "b0", Dir: facts.DirIn})
			f.Rules = []facts.Rule{
				{Namespace: "B", Family: "ip", Table: "f", Chain: "in", Hook: "input", Handle: 2, Verdict: facts.RuleDrop, Text: "tcp dport 7096 drop",
					Conds: []facts.Cond{{Key: "tcp dport", Op: "==", Values: []string{"7096"}}}},
				{Namespace: "B", Family: "ip", Table: "f", Chain: "in", Hook: "input", Handle: 3, Verdict: facts.RuleDrop, Text: "icmp type echo-request drop",
					Conds: []facts.Cond{{Key: "icmp type", Op: "==", Values: []string{"echo-request"}}}},
			}
		}, facts.CauseDropped, "B", "ip netns exec B nft delete rule ip f in handle 3", "entered B on b0, nothing answered: nftables rule \"icmp type echo-request drop\""},
		{"output rule at the source", func(f *facts.Facts, p *facts.ProbeFacts) {
			p.RequestSeen = nil
			f.Rules = []facts.Rule{{Namespace: "A", Family: "inet", Table: "f", Chain: "out", Hook: "output", Policy: true, Verdict: facts.RuleDrop}}
		}, facts.CauseDropped, "A", "ip netns exec A nft 'chain inet f out { policy accept; }'", "the request never left A: the policy drop of chain inet f out"},
		{"neighbour of the router failed", func(f *facts.Facts, p *facts.ProbeFacts) {
			f.State("R").Neighbors = []nsstate.NeighborEntry{{Dev: "r1", Addr: dst, State: nsstate.NeighFailed}}
		}, facts.CauseNeighbor, "R", "", "R's neighbour entry for 10.2.0.2 on r1 is FAILED"},
		{"ARP off on the destination's way in", func(f *facts.Facts, p *facts.ProbeFacts) {
			b0 := f.State("B").Link("b0")
			b0.NoARP, b0.MAC, b0.Kind = true, "02:00:00:00:00:b0", "veth"
		}, facts.CauseNeighbor, "B", "ip -n B link set dev b0 arp on", "never left R: ARP is off on b0 in B (the NOARP flag)"},
		{"a tun has no ARP by nature: not blamed", func(f *facts.Facts, p *facts.ProbeFacts) {
			f.State("B").Link("b0").NoARP, f.State("B").Link("b0").Kind = true, "tun"
			f.State("R").Neighbors = []nsstate.NeighborEntry{{Dev: "r1", Addr: dst, State: nsstate.NeighFailed}}
		}, facts.CauseNeighbor, "R", "", "R's neighbour entry for 10.2.0.2 on r1 is FAILED"},
		{"ARP dropped by the neighbour's firewall", func(f *facts.Facts, p *facts.ProbeFacts) {
			f.State("R").Neighbors = []nsstate.NeighborEntry{{Dev: "r1", Addr: dst, State: nsstate.NeighIncomplete}}
			f.Rules = []facts.Rule{{Namespace: "B", Family: "arp", Table: "f", Chain: "in", Hook: "input", Handle: 2, Verdict: facts.RuleDrop, Text: "drop"}}
		}, facts.CauseNeighbor, "B", "ip netns exec B nft delete rule arp f in handle 2", "R's neighbour entry for 10.2.0.2 on r1 is INCOMPLETE: B, which holds 10.2.0.2, drops ARP"},
		{"rp_filter, as kernels since 6.13 say it (EINVAL)", func(f *facts.Facts, p *facts.ProbeFacts) {
			f.State("R").RPFilter = map[string]int{"all": 1, "r0": 0}
			f.Lookups = []facts.Lookup{{Namespace: "R", Dst: dst, From: src, Iif: "r0", Output: "RTNETLINK answers: Invalid argument"}}
		}, facts.CauseDropped, "R", "ip netns exec R sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.r0.rp_filter=0", "reverse-path filtering (rp_filter) in R"},
		{"ARP refused by rp_filter: the resolution entered the router, never answered", func(f *facts.Facts, p *facts.ProbeFacts) {
			f.State("R").RPFilter = map[string]int{"all": 1}
			f.Lookups = []facts.Lookup{{Namespace: "R", Dst: dst, From: src, Iif: "r0", Output: "RTNETLINK answers: Invalid argument"}}
			p.RequestSeen = []facts.Sight{{Namespace: "A", Iface: "a0", Dir: facts.DirOut}}
			f.Resolutions = []facts.Resolution{{Target: dst, Unanswered: true, Sight: facts.Sight{Namespace: "A", Iface: "a0", Dir: facts.DirOut}}, {Target: dst, Unanswered: true, Sight: facts.Sight{Namespace: "R", Iface: "r0", Dir: facts.DirIn}}}
			p.Path = []facts.Hop{{Namespace: "A", Out: "a0", Role: facts.RoleSource}, {Namespace: "R", In: "r0", Out: "r1", Role: facts.RoleRouter}, {Namespace: "B", In: "b0", Role: facts.RoleDestination}}
		}, facts.CauseDropped, "R", "ip netns exec R sysctl -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.r0.rp_filter=0", "the neighbour resolution left A on a0, entered R on r0, which never answered"},
		{"mtu: frag-needed dropped in the router's output", func(f *facts.Facts, p *facts.ProbeFacts) {
			p.Kind, p.MTU = facts.KindMTU, &facts.MTUFacts{Dev: "a0", MTU: 1500}
			for _, l := range []*nsstate.LinkState{f.State("A").Link("a0"), f.State("R").Link("r0"), f.State("R").Link("r1"), f.State("B").Link("b0")} {
				l.MTU = 1500
			}
			f.State("R").Link("r1").MTU, f.State("B").Link("b0").MTU = 1280, 1280
			f.Rules = []facts.Rule{{Namespace: "R", Family: "inet", Table: "f", Chain: "out", Hook: "output", Handle: 3, Verdict: facts.RuleDrop, Text: "icmp type destination-unreachable drop",
				Conds: []facts.Cond{{Key: "icmp type", Op: "==", Values: []string{"destination-unreachable"}}}}}
		}, facts.CauseMTU, "R", "ip netns exec R nft delete rule inet f out handle 3", "R/r1 has MTU 1280, less than the 1500-byte packets with DF A sends on a0"},
		{"mtu: no rule to blame, the sender is told the size", func(f *facts.Facts, p *facts.ProbeFacts) {
			p.Kind, p.MTU = facts.KindMTU, &facts.MTUFacts{Dev: "a0", MTU: 1500}
			f.State("A").Link("a0").MTU, f.State("R").Link("r0").MTU, f.State("R").Link("r1").MTU = 1500, 1500, 1400
		}, facts.CauseMTU, "R", "ip -n A link set a0 mtu 1400", "which never reached A (a path-MTU black hole)"},
		{"answer stuck in the router without a route back", func(f *facts.Facts, p *facts.ProbeFacts) {
			p.RequestSeen = append(p.RequestSeen, facts.Sight{Namespace: "R", Iface: "r1", Dir: facts.DirOut}, facts.Sight{Namespace: "B", Iface: "b0", Dir: facts.DirIn})
			p.AnswerSeen = []facts.Sight{{Namespace: "B", Iface: "b0", Dir: facts.DirOut}, {Namespace: "R", Iface: "r1", Dir: facts.DirIn}}
			f.Lookups = []facts.Lookup{{Namespace: "R", Dst: src, From: dst, Iif: "r1", Output: "RTNETLINK answers: Network is unreachable"}}
			p.Back = p.Back[:2]
			p.Back[1].Out = ""
		}, facts.CauseNoReturnRoute, "R", "ip -n R route replace 10.1.0.0/24 dev r0", "the answer left B on b0, entered R on r1, never left R"},
		{"veth peer of the way in down, nothing left A", func(f *facts.Facts, p *facts.ProbeFacts) {
			a0 := f.State("A").Link("a0")
			a0.Carrier, a0.Peer = false, &nsstate.Peer{Namespace: "R", Interface: "r0"}
			f.State("R").Link("r0").Up = false
			p.RequestSeen = nil
		}, facts.CauseLinkDown, "R", "ip -n R link set r0 up", "nothing left A on a0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := mkFacts(), probe
			tt.edit(f, &p)
			judgeIt := judge
			if p.Kind == facts.KindMTU {
				judgeIt = judgePathMTU
			}
			v, ok := judgeIt(f, p)
			if !ok || v.Cause != tt.cause || v.Namespace != tt.namespace || v.Fix != tt.fix || !strings.Contains(v.Detail, tt.detail) {
				t.Errorf("got ok=%v %+v; want %s in %s, fix %q, detail with %q", ok, v, tt.cause, tt.namespace, tt.fix, tt.detail)
			}
		})
	}
}

// TestWalkSynthetic walks hand-made kernel state: a bridge's FDB choosing
// between two ports that both lead to the address, a chain of routers
// longer than MaxHops, and a routing loop.
func TestWalkSynthetic(t *testing.T) {
	pfx := func(s string) []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix(s)} }
	veth := func(name, peerNS, peerIf string, addr []netip.Prefix) nsstate.LinkState {
		return nsstate.LinkState{Name: name, Kind: "veth", Up: true, Carrier: true, Addresses: addr, Peer: &nsstate.Peer{Namespace: peerNS, Interface: peerIf}}
	}
	port := func(l nsstate.LinkState, master string) nsstate.LinkState { l.Master = master; return l }
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	ok := func(ns string, dst netip.Addr, iif, dev string, gw netip.Addr) facts.Lookup {
		return facts.Lookup{Namespace: ns, Dst: dst, Iif: iif, OK: true, Type: "unicast", Dev: dev, Gateway: gw}
	}

	t.Run("fdb picks the port", func(t *testing.T) {
		f := &facts.Facts{Namespaces: []*nsstate.NamespaceState{
			{Name: "A", Inode: 1, Links: []nsstate.LinkState{veth("a0", "S", "pa", pfx("10.0.0.1/24"))},
				Neighbors: []nsstate.NeighborEntry{{Dev: "a0", Addr: b, MAC: "02:00:00:00:00:cc", State: nsstate.NeighReachable}}},
			{Name: "S", Inode: 2, Links: []nsstate.LinkState{{Name: "br0", Kind: "bridge", Up: true, Carrier: true},
				port(veth("pa", "A", "a0", nil), "br0"), port(veth("pb", "B", "b0", nil), "br0"), port(veth("pc", "C", "c0", nil), "br0")},
				FDB: []nsstate.FDBEntry{{Bridge: "br0", Port: "pc", MAC: "02:00:00:00:00:cc"}}},
			{Name: "B", Inode: 3, Links: []nsstate.LinkState{veth("b0", "S", "pb", pfx("10.0.0.2/24"))}},
			{Name: "C", Inode: 4, Links: []nsstate.LinkState{veth("c0", "S", "pc", pfx("10.0.0.2/24"))}},
		}, Lookups: []facts.Lookup{ok("A", b, "", "a0", netip.Addr{})}}
		got, _, _ := Walk(factsWorld{f}, "A", a, b)
		want := []facts.Hop{{Namespace: "A", Inode: 1, Out: "a0", Role: facts.RoleSource}, {Namespace: "S", Inode: 2, In: "pa", Out: "pc", Role: facts.RoleBridge},
			{Namespace: "C", Inode: 4, In: "c0", Role: facts.RoleDestination}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("walked %+v, want %+v", got, want)
		}
	})

	// A chain A - R1 - R2 - ... - R9 - B: every router routes on to the next.
	chain := func(n int, loop bool) *facts.Facts {
		f := &facts.Facts{}
		name := func(i int) string {
			switch i {
			case 0:
				return "A"
			case n + 1:
				return "B"
			}
			return fmt.Sprintf("R%d", i)
		}
		for i := 0; i <= n+1; i++ {
			st := &nsstate.NamespaceState{Name: name(i), Inode: uint64(i + 1)}
			if i > 0 {
				st.Links = append(st.Links, veth("l", name(i-1), "r", pfx(fmt.Sprintf("10.%d.0.2/24", i))))
			}
			if i <= n {
				st.Links = append(st.Links, veth("r", name(i+1), "l", pfx(fmt.Sprintf("10.%d.0.1/24", i+1))))
			}
			if i == n+1 {
				st.Links[0].Addresses = append(st.Links[0].Addresses, netip.PrefixFrom(b, 32))
			}
			f.Namespaces = append(f.Namespaces, st)
			gw := netip.MustParseAddr(fmt.Sprintf("10.%d.0.2", i+1))
			iif := "l"
			if i == 0 {
				iif = ""
			}
			dev := "r"
			if loop && i == 2 {
				// R2 sends it back where it came from.
				dev, gw = "l", netip.MustParseAddr("10.2.0.1")
			}
			f.Lookups = append(f.Lookups, ok(name(i), b, iif, dev, gw))
		}
		return f
	}
	t.Run("at most MaxHops namespaces", func(t *testing.T) {
		got, _, cut := Walk(factsWorld{chain(9, false)}, "A", a, b)
		if len(got) != facts.MaxHops || got[facts.MaxHops-1].Role != facts.RoleRouter || got[facts.MaxHops-1].Out != "r" || got[0].Role != facts.RoleSource || !cut {
			t.Errorf("walked %d hops %+v (cut %v), want %d ending in a router with its way out, cut", len(got), got, cut, facts.MaxHops)
		}
		short, _, cut := Walk(factsWorld{chain(3, false)}, "A", a, b)
		if len(short) != 5 || short[4].Namespace != "B" || short[4].Role != facts.RoleDestination || short[2].In != "l" || short[2].Out != "r" || cut {
			t.Errorf("walked %+v (cut %v), want A R1 R2 R3 B", short, cut)
		}
		// Exactly MaxHops namespaces: the whole path, not cut.
		full, _, cut := Walk(factsWorld{chain(facts.MaxHops-2, false)}, "A", a, b)
		if len(full) != facts.MaxHops || full[facts.MaxHops-1].Role != facts.RoleDestination || cut {
			t.Errorf("walked %+v (cut %v), want %d hops to B", full, cut, facts.MaxHops)
		}
		// A failed probe on a cut path says so, and where the path was cut.
		hops := got
		note := truncatedNote(facts.ProbeFacts{Path: hops, PathTruncated: true})
		if want := fmt.Sprintf("the way there goes on past R7 (out r), beyond the %d namespaces", facts.MaxHops); !strings.Contains(note, want) {
			t.Errorf("note %q lacks %q", note, want)
		}
		if note := truncatedNote(facts.ProbeFacts{Path: short}); note != "" {
			t.Errorf("note %q for a whole path", note)
		}
		// Seen leaving the last namespace followed: nothing there to blame.
		var seen []facts.Sight
		for _, e := range events(hops, false) {
			seen = append(seen, facts.Sight{Namespace: hops[e.hop].Namespace, Iface: e.iface, Dir: e.dir})
		}
		if v, ok := judge(chain(9, false), facts.ProbeFacts{Path: hops, PathTruncated: true, RequestSeen: seen}); ok {
			t.Errorf("judged %+v past the path's end", v)
		}
	})
	t.Run("a loop ends the path", func(t *testing.T) {
		got, _, _ := Walk(factsWorld{chain(4, true)}, "A", a, b)
		if len(got) != 3 || got[2].Namespace != "R2" || got[2].Out != "l" {
			t.Errorf("walked %+v, want A R1 R2 (which sends it back)", got)
		}
	})
}

// TestJudgeLab judges the recorded facts of the two-namespace lab's
// causes without root, and again after editing one fact: the verdict
// follows the facts (the link, the rule, the socket's errno, the counters),
// not the kernel of the machine that judges.
func TestJudgeLab(t *testing.T) {
	recs := tracetest.LoadRecorded(t)
	type check struct {
		cause  facts.Cause
		ns     string // A or B
		fix    string // a prefix; A and B replaced
		detail string // a part; A and B replaced
	}
	tests := []struct {
		file, direction string
		kind            facts.ProbeKind
		edit            func(f *facts.Facts, p *facts.ProbeFacts)
		want            check
	}{
		{"lab-no-routes-at-all", "A->B", "icmp-echo", nil, check{facts.CauseNoRoute, "A", "ip -n A route replace ", "A has no route to"}},
		{"lab-no-routes-at-all", "B->A", "tcp", nil, check{facts.CauseNoRoute, "B", "ip -n B route replace ", "nothing leaves it"}},
		{"lab-route-only-in-A", "A->B", "icmp-echo", nil, check{facts.CauseNoReturnRoute, "B", "ip -n B route replace ", "the request reached B, which has no route back"}},
		{"lab-veth-in-B-down", "A->B", "tcp", nil, check{facts.CauseLinkDown, "B", "ip -n B link set ", "is down, and its routes went down with it"}},
		{"lab-veth-in-B-down", "A->B", "tcp", func(f *facts.Facts, p *facts.ProbeFacts) {
			for i := range f.State(p.To).Links {
				f.State(p.To).Links[i].Up = true
			}
		}, check{facts.CauseNeighbor, "A", "", "got no answer"}}, // its neighbour entry for B stays FAILED
		{"lab-address-nobody-owns", "A->B", "icmp-echo", nil, check{facts.CauseNeighbor, "A", "", "got no answer; no interface in A or B has that address"}},
		{"lab-closed-port-without-listener", "A->B", "tcp", nil, check{facts.CausePortClosed, "B", "ip netns exec B nc -l 7", "answered the SYN to port 7 with a reset"}},
		{"lab-closed-port-without-listener", "A->B", "tcp", func(f *facts.Facts, p *facts.ProbeFacts) { p.Socket.ConnErr = facts.SocketError{} },
			check{facts.CauseDropped, "A", "", "the answer came back into A but never reached the probe"}},
		{"lab-nftables-drop-in-B", "A->B", "icmp-echo", nil, check{facts.CauseDropped, "B", "ip netns exec B nft delete rule inet nsdt in handle ", "nftables rule \"ip saddr "}},
		{"lab-nftables-drop-in-B", "B->A", "tcp", nil, check{facts.CauseDropped, "B", "ip netns exec B nft delete rule inet nsdt in handle ", "the answer came back into B but never reached the probe"}},
		{"lab-nftables-drop-in-B", "A->B", "icmp-echo", func(f *facts.Facts, p *facts.ProbeFacts) { f.Rules = nil },
			check{facts.CauseDropped, "B", "", "nothing answered"}},
		{"lab-rp_filter-in-B-route-back-through-another-interface", "A->B", "icmp-echo", nil,
			check{facts.CauseDropped, "B", "", "kernel counters in B: TcpExt:IPReversePathFilter +"}},
		{"lab-rp_filter-in-B-route-back-through-another-interface", "A->B", "tcp", nil, check{facts.CauseDropped, "B", "", "strict rp_filter (net.ipv4.conf.all.rp_filter=1)"}},
		{"lab-rp_filter-in-B-route-back-through-another-interface", "A->B", "tcp", func(f *facts.Facts, p *facts.ProbeFacts) {
			f.Counters, f.State(p.To).RPFilter = nil, nil
		}, check{facts.CauseWrongRoute, "B", "ip -n B route replace ", "leaves by rpx0"}},
		{"lab-rp_filter-in-B-route-back-through-another-interface", "B->A", "icmp-echo", nil, check{facts.CauseWrongRoute, "B", "ip -n B route replace ", "ARP for the next hop was seen leaving on rpx0"}},
		{"lab-tcp-reset", "A->B", "tcp", nil, check{facts.CauseRejected, "B", "ip netns exec B nft delete rule inet czr in handle ", "rejects the request: a reset came back, seen at "}},
		{"lab-tcp-reset", "A->B", "tcp", func(f *facts.Facts, p *facts.ProbeFacts) { f.Rules = nil },
			check{facts.CausePortClosed, "B", "ip netns exec B nc -l 7096", "with a reset: nothing listens there"}},
		{"lab-prohibit-host-route-back-to-A-in-B", "A->B", "icmp-echo", nil, check{facts.CauseNoReturnRoute, "B", "ip -n B route del prohibit ", `its route there is "prohibit `}},
		{"lab-prohibit-host-route-back-to-A-in-B", "B->A", "tcp", nil, check{facts.CauseNoRoute, "B", "ip -n B route del prohibit ", "(RTNETLINK answers: Permission denied): nothing leaves it"}},
		{"lab-iptables-legacy-policy-drop", "A->B", "icmp-echo", nil, check{facts.CauseDropped, "B", "ip netns exec B iptables-legacy -P INPUT ACCEPT", "the policy DROP of iptables-legacy chain INPUT"}},
		{"lab-veth-ends-at-9000-and-1500", "B->A", facts.KindMTU, nil, check{facts.CauseMTU, "B", "ip -n B link set ", "the two ends of a veth pair disagree on the MTU"}},
	}
	for _, tt := range tests {
		name := tt.file + " " + tt.direction + " " + string(tt.kind)
		if tt.edit != nil {
			name += " edited"
		}
		t.Run(name, func(t *testing.T) {
			rec, ok := recs[tt.file]
			if !ok {
				t.Fatalf("no testdata/facts/%s.json", tt.file)
			}
			// A fresh copy: an edit must not leak into another case.
			var f facts.Facts
			b, _ := json.Marshal(rec.Facts)
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			a, bn := f.Probes[0].From, f.Probes[0].To
			letters := strings.NewReplacer("A->B", a+"->"+bn, "B->A", bn+"->"+a, "ip -n A", "ip -n "+a, "ip -n B", "ip -n "+bn,
				"exec A", "exec "+a, "exec B", "exec "+bn, "in A", "in "+a, "in B", "in "+bn, "A has", a+" has", "B has", bn+" has",
				"reached B", "reached "+bn, "into A", "into "+a, "into B", "into "+bn, " A or B", " "+a+" or "+bn)
			i := slices.IndexFunc(f.Probes, func(p facts.ProbeFacts) bool {
				return p.Direction == letters.Replace(tt.direction) && p.Kind == tt.kind && p.Family == 4
			})
			if i < 0 {
				t.Fatalf("no %s %s probe recorded", tt.direction, tt.kind)
			}
			p := f.Probes[i]
			if tt.edit != nil {
				tt.edit(&f, &p)
			}
			v := Judge(&f, p)
			ns := map[string]string{"A": a, "B": bn}[tt.want.ns]
			if v.OK || v.Cause != tt.want.cause || v.Namespace != ns || !strings.HasPrefix(v.Fix, letters.Replace(tt.want.fix)) ||
				(tt.want.fix == "" && v.Fix != "") || !strings.Contains(v.Detail, letters.Replace(tt.want.detail)) {
				t.Errorf("ok=%v %s in %s, fix %q: %s\nwant %s in %s, fix %q..., detail with %q", v.OK, v.Cause, v.Namespace, v.Fix, v.Detail,
					tt.want.cause, ns, letters.Replace(tt.want.fix), letters.Replace(tt.want.detail))
			}
			if v.RouteGet == nil || v.RouteGet.Namespace != v.Namespace {
				t.Errorf("route lookup %+v, want one of %s", v.RouteGet, v.Namespace)
			}
		})
	}
}

// TestJudgeConflictRecorded: the bridge whose third namespace holds B's
// address too; without the neighbour entry that points at it (the
// state after the probes), the echo the impostor answered is ok again.
func TestJudgeConflictRecorded(t *testing.T) {
	rec, ok := tracetest.LoadRecorded(t)["bridge-address-conflict"]
	if !ok {
		t.Fatal("no testdata/facts/bridge-address-conflict.json")
	}
	p := rec.Facts.Probes[0]
	if v := Judge(rec.Facts, p); v.OK || v.Cause != facts.CauseConflict || !strings.Contains(v.Detail, "also holds "+p.Request.Dst.String()) {
		t.Errorf("recorded: ok=%v %s in %s: %s", v.OK, v.Cause, v.Namespace, v.Detail)
	}
	asker := rec.Facts.StateAfter(p.From)
	asker.Neighbors = slices.DeleteFunc(asker.Neighbors, func(n nsstate.NeighborEntry) bool { return n.Addr == p.Request.Dst })
	if v := Judge(rec.Facts, p); !v.OK || v.Cause != facts.CauseOK {
		t.Errorf("without the neighbour entry: ok=%v %s in %s: %s", v.OK, v.Cause, v.Namespace, v.Detail)
	}
}
