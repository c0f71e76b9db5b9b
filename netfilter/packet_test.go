package netfilter

import (
	"net/netip"
	"slices"
	"testing"
)

// ev builds an event of table ip t; verdict words: "jump X", "goto X",
// "continue", "return", "accept", "drop"; handle 0 with "continue" is a
// chain's end; typ "policy" a base chain's policy.
func ev(id uint32, chain string, handle uint64, verdict string) Event {
	e := Event{ID: id, Family: FamilyIP, Table: "t", Chain: chain, Handle: handle, Type: EventRule}
	kind, target, _ := cut(verdict)
	switch kind {
	case "policy-accept", "policy-drop":
		e.Type = EventPolicy
		kind = kind[len("policy-"):]
	}
	var k VerdictKind
	if err := k.UnmarshalText([]byte(kind)); err != nil {
		panic(err)
	}
	e.Verdict = Verdict{Kind: k, Chain: target}
	return e
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// own is the first event of nsdump's chain for a packet: it starts a packet.
func own(id uint32, h Header) Event {
	return Event{ID: id, Family: FamilyInet, Table: "nsdump_trace_1_1", Chain: "pre", Handle: 2, Type: EventRule,
		Verdict: Verdict{Kind: VerdictContinue}, Packet: h}
}

func ownBridge(id uint32, h Header) Event {
	e := own(id, h)
	e.Family, e.Table = FamilyBridge, "nsdump_trace_1_2"
	return e
}

func TestPackets(t *testing.T) {
	h1 := Header{Valid: true, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ProtoICMP, ICMPID: 1, HasID: true}
	h2 := h1
	h2.Src, h2.Dst = h1.Dst, h1.Src
	tests := []struct {
		name     string
		events   []Event
		walks    int      // of the last packet
		path     []string // of its fate
		entered  []string
		verdict  VerdictKind
		handle   uint64
		policy   bool
		nPackets int
	}{
		{
			name: "docker isolation: returns, then a drop two jumps down",
			events: []Event{own(1, h1),
				ev(1, "FORWARD", 1, "jump DOCKER-USER"), ev(1, "DOCKER-USER", 5, "return"),
				ev(1, "FORWARD", 2, "jump S1"), ev(1, "S1", 7, "jump S2"), ev(1, "S2", 9, "drop")},
			walks: 1, path: []string{"FORWARD", "S1", "S2"}, entered: []string{"FORWARD", "DOCKER-USER", "S1", "S2"},
			verdict: VerdictDrop, handle: 9, nPackets: 1,
		},
		{
			name: "chain ends (handle 0) return to the caller; policy decides",
			events: []Event{own(1, h1),
				ev(1, "input", 3, "jump sub"), ev(1, "sub", 0, "continue"), ev(1, "input", 0, "continue"), ev(1, "input", 0, "policy-drop")},
			walks: 1, path: []string{"input"}, entered: []string{"input", "sub"}, verdict: VerdictDrop, policy: true, nPackets: 1,
		},
		{
			name: "a return from a chain entered by goto skips the chain that went there",
			events: []Event{own(1, h1),
				ev(1, "fwd", 1, "jump a"), ev(1, "a", 2, "goto b"), ev(1, "b", 0, "continue"), ev(1, "fwd", 4, "drop")},
			walks: 1, path: []string{"fwd"}, entered: []string{"fwd", "a", "b"}, verdict: VerdictDrop, handle: 4, nPackets: 1,
		},
		{
			name: "accepted in one hook, dropped in the next",
			events: []Event{own(1, h1),
				ev(1, "prerouting", 1, "accept"), ev(1, "forward", 0, "policy-drop")},
			walks: 2, path: []string{"forward"}, entered: []string{"forward"}, verdict: VerdictDrop, policy: true, nPackets: 1,
		},
		{
			name: "an id given again to the answer starts a packet at nsdump's chain",
			events: []Event{own(1, h1), ev(1, "forward", 0, "policy-accept"),
				own(1, h2), ev(1, "forward", 3, "drop")},
			walks: 1, path: []string{"forward"}, entered: []string{"forward"}, verdict: VerdictDrop, handle: 3, nPackets: 2,
		},
		{
			name:   "a bridged frame enters nsdump's bridge and inet chains: one packet",
			events: []Event{own(1, h1), ownBridge(1, h1), ev(1, "forward", 5, "drop")},
			walks:  1, path: []string{"forward"}, entered: []string{"forward"}, verdict: VerdictDrop, handle: 5, nPackets: 1,
		},
		{
			name:   "events that stop before a verdict decide nothing",
			events: []Event{own(1, h1), ev(1, "forward", 1, "jump x")},
			walks:  1, path: []string{"forward", "x"}, entered: []string{"forward", "x"}, nPackets: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkts := Packets(tt.events)
			if len(pkts) != tt.nPackets {
				t.Fatalf("%d packets, want %d: %+v", len(pkts), tt.nPackets, pkts)
			}
			p := pkts[len(pkts)-1]
			if len(p.Walks) != tt.walks {
				t.Fatalf("%d walks, want %d: %+v", len(p.Walks), tt.walks, p.Walks)
			}
			w, _ := p.Fate()
			if !slices.Equal(w.Path, tt.path) || !slices.Equal(w.Entered, tt.entered) || w.Verdict.Kind != tt.verdict || w.Policy() != tt.policy {
				t.Fatalf("fate %+v", w)
			}
			if tt.verdict != VerdictNone && !tt.policy && w.Decided.Handle != tt.handle {
				t.Fatalf("decided by %d, want %d", w.Decided.Handle, tt.handle)
			}
		})
	}
}
