package netfilter

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

// readHex reads payloads, one per line, skipping # comments.
func readHex(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestParseRecordedEvents(t *testing.T) {
	var evs []Event
	for _, p := range readHex(t, "testdata/drop-in-jumped-chain.hex") {
		ev, err := ParseEvent(p)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	first := evs[0]
	wantHdr := Header{Valid: true, Src: netip.MustParseAddr("10.11.1.2"), Dst: netip.MustParseAddr("10.11.2.2"),
		Proto: ProtoICMP, ICMPType: 8, ICMPID: 77, HasID: true, IPID: 0x7224}
	if first.Family != FamilyInet || first.NFProto != FamilyIP || first.Handle != 2 || first.Type != EventRule ||
		first.Verdict.Kind != VerdictContinue || first.IIF != 2 || first.Packet != wantHdr {
		t.Fatalf("first event %+v", first)
	}
	jump := evs[3]
	if jump.Table != "fw" || jump.Chain != "forward" || jump.Verdict.Kind != VerdictJump || jump.Verdict.Chain != "checks" || jump.OIF != 3 {
		t.Fatalf("jump event %+v", jump)
	}
	if evs[2].Type != EventPolicy || evs[2].Verdict.Kind != VerdictAccept {
		t.Fatalf("policy event %+v", evs[2])
	}
	for _, ev := range evs {
		if ev.ID != first.ID {
			t.Fatalf("ids %d and %d in one packet's events", first.ID, ev.ID)
		}
	}
	pkts := Packets(evs)
	if len(pkts) != 1 || len(pkts[0].Walks) != 1 || pkts[0].Header != wantHdr || !pkts[0].Dropped() {
		t.Fatalf("packets %+v", pkts)
	}
	w := pkts[0].Walks[0]
	if w.Decided == nil || w.Decided.Handle != 4 || !slices.Equal(w.Path, []string{"forward", "checks"}) || w.Base != "forward" || w.Policy() {
		t.Fatalf("walk %+v", w)
	}
	p := Probe{Src: wantHdr.Src, Dst: wantHdr.Dst, Proto: ProtoICMP, ICMPID: 77, HasID: true}
	if d, ok := p.Match(pkts[0].Header); !ok || d != Forward {
		t.Fatalf("match: %v %v", d, ok)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, p := range readHex(f, "testdata/drop-in-jumped-chain.hex") {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseEvent(b)
		if err == nil {
			Packets([]Event{ev, ev})
		}
	})
}

func FuzzParseConntrack(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ct, err := ParseConntrack(b)
		if err == nil {
			ct.Translations(nil)
		}
	})
}

// TestPacketsJSON: packets survive a JSON round trip (facts files hold them).
func TestPacketsJSON(t *testing.T) {
	var evs []Event
	for _, p := range readHex(t, "testdata/drop-in-jumped-chain.hex") {
		ev, err := ParseEvent(p)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	pkts := Packets(evs)
	b, err := json.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	var back []Packet
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) || !strings.Contains(string(b), `"kind":"drop"`) || !strings.Contains(string(b), `"path":["forward","checks"]`) {
		i := 0
		for i < len(b) && i < len(b2) && b[i] == b2[i] {
			i++
		}
		t.Fatalf("round trip differs at %d:\n%s\n%s", i, b[i:], b2[i:])
	}
}
