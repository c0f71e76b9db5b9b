package decode

import (
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// TestAppendJSONKnowsEveryField: AppendJSON writes every field of the
// report; a new one must be added there (until then encoding/json writes
// the exchanges, as slowly as before).
func TestAppendJSONKnowsEveryField(t *testing.T) {
	for typ, want := range exchangeFields {
		if got := jsonTags(typ); !slices.Equal(got, want) {
			t.Errorf("%s has the JSON fields %q; AppendJSON writes %q: teach it the new ones", typ, got, want)
		}
	}
}

// TestAppendJSONAsEncodingJSON: AppendJSON gives json.MarshalIndent's
// bytes for every exchange of the recorded captures and for exchanges with
// every field set, strings that need escaping and odd numbers.
func TestAppendJSONAsEncodingJSON(t *testing.T) {
	all := recordedExchanges(t, false)
	if len(all) < 50 {
		t.Fatalf("only %d exchanges in ../testdata/pcaps", len(all))
	}
	for _, rtt := range []float64{0, 0.001, 1e-7, 123456.789, 1e21, -2.5e-9} {
		ex := everyField(rtt)
		all = append(all, ex, &Exchange{}, &Exchange{Seen: []Sighting{}, Start: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600))})
	}
	for i, ex := range all {
		want, err := json.MarshalIndent(ex, "    ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ex.AppendJSON([]byte("x"), "    ", "  ")
		if !ok {
			t.Fatalf("exchange %d: AppendJSON does not apply", i)
		}
		if string(got[1:]) != string(want) {
			t.Fatalf("exchange %d:\nAppendJSON:\n%s\nencoding/json:\n%s", i, got[1:], want)
		}
	}
}

// TestAppendJSONTemplates: an exchange written from the template of the
// one before it (jsontemplate.go) comes out as encoding/json writes it,
// and one of another shape is not written from it, whichever exchange was
// written before: every ordered pair of the recorded captures' exchanges
// (their ends typed, as read --json has them), and a flood's SYN beside
// variants of it that differ in one thing the template holds constant.
func TestAppendJSONTemplates(t *testing.T) {
	all := recordedExchanges(t, true)
	tr := NewTracker(nil)
	tr.Reuse, tr.Emit = true, copying(&all)
	tr.Add(packedSYN(5, 0))
	tr.Add(echoReq(7*time.Microsecond, 1, 2))
	tr.Flush()
	syn := all[len(all)-2]
	if syn.Kind != KindTCPConn || syn.SynSeen == nil {
		t.Fatalf("the flood's SYN is a %s exchange", syn.Kind)
	}
	variant := func(change func(*Exchange)) {
		c := new(Exchange)
		syn.CopyTo(c)
		change(c)
		all = append(all, c)
	}
	variant(func(e *Exchange) { e.Status = StatusRefused })
	variant(func(e *Exchange) { e.Close = "rst" })
	variant(func(e *Exchange) { e.Requests = 0 })
	variant(func(e *Exchange) { e.vals.syn = false })
	variant(func(e *Exchange) { e.SynSeen, e.BytesToClient = nil, nil })
	variant(func(e *Exchange) { e.SynAckSeen = true })
	variant(func(e *Exchange) { e.SeenMore = 3 })
	variant(func(e *Exchange) { e.Seen[0].Point = "ns/veth0" })
	variant(func(e *Exchange) { e.Seen[0].Dir = "in" })
	variant(func(e *Exchange) { e.Seen[0].What = "[S.]" })
	variant(func(e *Exchange) { e.Seen[0].PacketID = 9 })
	variant(func(e *Exchange) { e.Seen[0].Probe = "a->b tcp" })
	variant(func(e *Exchange) { e.Seen[0].Stray = true })
	variant(func(e *Exchange) { e.Seen[0].Drop = capture.Drop{Reason: "NO_SOCKET"} })
	variant(func(e *Exchange) { e.Seen = append(e.Seen, e.Seen[0]) })
	variant(func(e *Exchange) { e.Seen = nil })
	variant(func(e *Exchange) { e.Seen = e.Seen[:0] })
	variant(func(e *Exchange) { e.Errors = []ICMPErr{{From: "10.0.0.9", Type: 3, Code: 1}} })
	variant(func(e *Exchange) { e.DstAddr = netip.MustParseAddr("fe80::1%eth0") })
	variant(func(e *Exchange) { e.ports = false })
	variant(func(e *Exchange) { e.SrcAddr = netip.MustParseAddr("2001:db8::1") })
	if len(all) < 80 {
		t.Fatalf("only %d exchanges", len(all))
	}
	want := make([]string, len(all))
	for i, ex := range all {
		b, err := json.MarshalIndent(ex.Clone(), "    ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		want[i] = string(b)
	}
	fromTemplate := 0
	for i, a := range all {
		for j, b := range all {
			a.AppendJSON(nil, "    ", "  ")
			if t := (&jsonWriter{layout: layoutFor("    ", "  ")}).templateFor(b); t != nil {
				fromTemplate++
			}
			got, ok := b.AppendJSON(nil, "    ", "  ")
			if !ok || string(got) != want[j] {
				t.Fatalf("exchange %d after %d:\nAppendJSON:\n%s\nencoding/json:\n%s", j, i, got, want[j])
			}
		}
	}
	if fromTemplate < len(all) {
		t.Errorf("%d of %d pairs written from a template: too few to test them", fromTemplate, len(all)*len(all))
	}
}

// copying is an Emit for a tracker that reuses exchanges: it appends a
// copy of each exchange to list.
func copying(list *[]*Exchange) func(*Exchange) {
	return func(ex *Exchange) {
		c := new(Exchange)
		ex.CopyTo(c)
		*list = append(*list, c)
	}
}

// recordedExchanges are the exchanges of the captures in testdata/pcaps;
// typed, their ends only typed, as a tracker that reuses exchanges (read)
// emits them.
func recordedExchanges(t *testing.T, typed bool) []*Exchange {
	var all []*Exchange
	files, _ := filepath.Glob("../testdata/pcaps/*.pcap*")
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		tr := NewTracker(nil)
		if typed {
			tr.Reuse, tr.Emit = true, copying(&all)
		}
		if err := ReadFile(f, tr, nil, nil); err != nil {
			t.Logf("%s: %v", name, err)
		}
		f.Close()
		if typed {
			tr.Flush()
		} else {
			all = append(all, tr.Exchanges()...)
		}
	}
	return all
}

// TestAppendJSONDeclines: what encoding/json refuses, AppendJSON leaves
// to it.
func TestAppendJSONDeclines(t *testing.T) {
	for _, ex := range []*Exchange{everyField(math.NaN()), everyField(math.Inf(1)), {Start: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		if b, ok := ex.AppendJSON(nil, "", "  "); ok || b != nil {
			t.Errorf("AppendJSON wrote %s", b)
		}
	}
}

// everyField is an exchange with every field set.
func everyField(rtt float64) *Exchange {
	ex := &Exchange{Kind: "tcp", Status: "refused", Src: "10.0.0.1:5<>&", Dst: "[fe80::1]:80",
		SrcAddr: netip.MustParseAddr("10.0.0.1"), SrcPort: 5, DstAddr: netip.MustParseAddr("fe80::1%eth0"), DstPort: 80,
		Requests: 3, Answer: "02:00:00:00:00:01", SynAckSeen: true, Close: "rst\x1b]0;\"\\\u2028\xff",
		Errors:   []ICMPErr{{From: "10.0.0.9", Type: 3, Code: 13, Text: "admin prohibited"}, {From: "é", Type: 255}},
		Seen:     []Sighting{{Point: "ns0/veth0", Dir: "out", Time: epoch, What: "[S]", Drop: capture.Drop{Reason: "NETFILTER_DROP", Location: "x", Iface: "y"}}, {Point: "\n", Time: epoch.Add(-time.Hour).In(time.FixedZone("", -5*3600))}},
		SeenMore: 7, Start: epoch.Add(time.Nanosecond),
	}
	ex.setEcho(1, 65535)
	ex.setRTT(0)
	ex.vals.rtt = rtt
	ex.setTCP(true)
	ex.vals.isn, ex.ISN = math.MaxUint32, &ex.vals.isn
	ex.vals.toServer, ex.vals.toClient = -1, math.MaxInt
	return ex
}

// TestAppendRFC3339Nano: the times AppendJSON writes, the whole second
// remembered from the time before, are time.RFC3339Nano's, whatever the
// fraction, the location and the order (the same second in another zone,
// the years at both ends).
func TestAppendRFC3339Nano(t *testing.T) {
	locs := []*time.Location{time.UTC, time.FixedZone("", -5*3600), time.FixedZone("x", 5*3600+1800), time.Local}
	if l, err := time.LoadLocation("Europe/Berlin"); err == nil {
		locs = append(locs, l) // a summer time change at 01:00 UTC, 2024-03-31
	}
	bases := []time.Time{epoch, time.Date(2024, 3, 31, 0, 59, 59, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)}
	fracs := []time.Duration{0, 1, 10, 999_999_999, 500 * time.Millisecond, 7 * time.Microsecond, 120_000_000, 1_000_000_001}
	for _, base := range bases {
		for _, loc := range locs {
			for _, f := range fracs {
				at := base.Add(f).In(loc)
				if at.Year() < 0 || at.Year() > 9999 {
					continue
				}
				want := at.Format(time.RFC3339Nano)
				for i := 0; i < 2; i++ { // formatted, then from the second remembered
					if got := string(appendRFC3339Nano(nil, at)); got != want {
						t.Fatalf("%v: %q, want %q", at, got, want)
					}
				}
			}
		}
	}
}

// BenchmarkAppendJSON: one exchange of a flood as `read --json` writes it,
// an unanswered echo request and an unanswered SYN, their ends typed as
// a tracker that reuses exchanges leaves them.
func BenchmarkAppendJSON(b *testing.B) {
	tr := NewTracker(nil)
	tr.Reuse = true
	var list []*Exchange
	tr.Emit = copying(&list)
	tr.Add(echoReq(7*time.Microsecond, 1, 2))
	tr.Add(packedSYN(5, 0))
	tr.Flush()
	for _, ex := range list {
		b.Run(string(ex.Kind), func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = ex.AppendJSON(buf[:0], "    ", "  ")
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// TestAppendJSONEnds: an exchange whose ends are only typed (as a tracker
// that reuses exchanges emits them) is written as encoding/json writes
// its Clone, which names them: IPv4, IPv6, IPv4 in IPv6, with ports and
// without.
func TestAppendJSONEnds(t *testing.T) {
	addrs := []string{"10.0.0.1", "fe80::1", "::ffff:10.0.0.2", "2001:db8::", "0.0.0.0", "::"}
	for _, a := range addrs {
		for _, b := range addrs {
			for _, ports := range []bool{false, true} {
				ex := &Exchange{Kind: KindTCPConn, Status: StatusUnanswered, Seen: []Sighting{}, Start: epoch}
				ex.setEnds(netip.AddrPortFrom(netip.MustParseAddr(a), 40000), netip.AddrPortFrom(netip.MustParseAddr(b), 80), ports)
				want, err := json.MarshalIndent(ex.Clone(), "  ", " ")
				if err != nil {
					t.Fatal(err)
				}
				got, ok := ex.AppendJSON(nil, "  ", " ")
				if !ok || string(got) != string(want) {
					t.Fatalf("%s > %s, ports %v:\nAppendJSON:\n%s\nencoding/json:\n%s", a, b, ports, got, want)
				}
			}
		}
	}
}
