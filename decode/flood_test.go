package decode

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// packedSYN is the i-th of a flood of unanswered SYNs, each its own
// client, a microsecond apart: a million fit in a second of capture time.
func packedSYN(i int, point int) *Packet {
	src := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return &Packet{Time: epoch.Add(time.Duration(i) * time.Microsecond), Kind: KindTCP, Src: src, Dst: srvAddr,
		SrcPort: 40000, DstPort: 80, Flags: SYN, TCPSeq: uint32(i), Point: point, Hash: uint64(i) + 1}
}

// TestPackedFloodBounded: SYNs packed in time keep every table of the
// tracker bounded by MaxOpen, whatever their number (issue 22: the
// finished exchanges waiting out the linger grew with the packet rate,
// 200,000 at a million SYNs a second).
func TestPackedFloodBounded(t *testing.T) {
	tr := NewTracker([]capture.Point{{Name: "a"}, {Name: "b"}})
	tr.MaxOpen, tr.Reuse = 500, true
	n := 0
	tr.Emit = func(*Exchange) { n++ }
	most := 0
	for i := 0; i < 30_000; i++ {
		tr.Add(packedSYN(i, 0))
		tr.Add(packedSYN(i, 1)) // the same SYN at a second point
		held := tr.nopen + len(tr.done) - tr.doneHead + len(tr.free)
		most = max(most, held)
		if tr.nopen > tr.MaxOpen || len(tr.done)-tr.doneHead > tr.maxLingering() || len(tr.free) > maxFree {
			t.Fatalf("after %d SYNs: %d open, %d lingering, %d free; want at most %d, %d, %d",
				i+1, tr.nopen, len(tr.done)-tr.doneHead, len(tr.free), tr.MaxOpen, tr.maxLingering(), maxFree)
		}
		if tr.tcp.len() > tr.MaxOpen {
			t.Fatalf("after %d SYNs: %d in the TCP table", i+1, tr.tcp.len())
		}
	}
	tr.Flush()
	if n != 30_000 || tr.Packets() != 30_000 {
		t.Fatalf("%d exchanges emitted, %d packets; want 30000 each", n, tr.Packets())
	}
	t.Logf("at most %d exchanges held at once", most)
}

// TestReuseSameReport: a tracker that reuses emitted exchanges emits the
// same exchanges as one that does not, sightings at other points and
// late duplicates included, and AppendJSON writes the ends a reused one
// leaves unnamed.
func TestReuseSameReport(t *testing.T) {
	var pkts []*Packet
	for i := 0; i < 5000; i++ {
		pkts = append(pkts, packedSYN(i, 0))
		if i%3 == 0 {
			pkts = append(pkts, packedSYN(i, 1))
		}
		if i%7 == 0 {
			rep := echoReq(time.Duration(i)*time.Microsecond, uint16(i), 1)
			pkts = append(pkts, rep, echoRep(time.Duration(i+1)*time.Microsecond, uint16(i), 1))
		}
		if i%11 == 0 && i > 3000 {
			pkts = append(pkts, packedSYN(i-3000, 1)) // long after: its exchange is gone
		}
	}
	run := func(reuse bool) []string {
		tr := NewTracker([]capture.Point{{Name: "a"}, {Name: "b"}})
		tr.MaxOpen, tr.Reuse = 100, reuse
		var out []string
		tr.Emit = func(ex *Exchange) {
			b, ok := ex.AppendJSON(nil, "", " ")
			if !ok {
				t.Fatal("AppendJSON declined")
			}
			want, err := json.MarshalIndent(ex.Clone(), "", " ")
			if err != nil || string(want) != string(b) {
				t.Fatalf("AppendJSON:\n%s\nencoding/json:\n%s", b, want)
			}
			out = append(out, string(b))
		}
		for _, p := range pkts {
			q := *p
			tr.Add(&q)
		}
		tr.Flush()
		return out
	}
	plain, reused := run(false), run(true)
	if len(plain) != len(reused) {
		t.Fatalf("%d exchanges without reuse, %d with", len(plain), len(reused))
	}
	for i := range plain {
		if plain[i] != reused[i] {
			t.Fatalf("exchange %d differs:\n%s\n%s", i, plain[i], reused[i])
		}
	}
}

// TestCloneSharesNothing: a clone keeps its values when the exchange is
// reused.
func TestCloneSharesNothing(t *testing.T) {
	tr := NewTracker(nil)
	var kept []*Exchange
	tr.Reuse = true
	tr.Emit = func(ex *Exchange) { kept = append(kept, ex.Clone()) }
	tr.MaxOpen = 1
	for i := 0; i < 50; i++ {
		tr.Add(echoReq(time.Duration(i)*time.Second, uint16(i), uint16(i)))
	}
	tr.Flush()
	for i, ex := range kept {
		if got := fmt.Sprint(*ex.ID, *ex.Seq, ex.Seen[0].Time.Sub(epoch)); got != fmt.Sprint(i, i, time.Duration(i)*time.Second) {
			t.Fatalf("clone %d holds %s", i, got)
		}
	}
}

// TestCopyToSharesNothing: a copy made with CopyTo keeps its values when
// the exchange is reused, writes the same JSON as a clone, and reuses the
// arrays of the exchange it overwrites.
func TestCopyToSharesNothing(t *testing.T) {
	tr := NewTracker(nil)
	tr.Reuse, tr.MaxOpen = true, 1
	var copies [2]Exchange
	var want [2]string
	n := 0
	tr.Emit = func(ex *Exchange) {
		c := &copies[n%2]
		before := cap(c.Seen)
		ex.CopyTo(c)
		if n >= 2 && cap(c.Seen) != before {
			t.Errorf("copy %d: sightings' array reallocated (cap %d, was %d)", n, cap(c.Seen), before)
		}
		b, _ := ex.Clone().AppendJSON(nil, "", " ")
		want[n%2] = string(b)
		n++
	}
	for i := 0; i < 50; i++ {
		tr.Add(echoReq(time.Duration(i)*time.Second, uint16(i), uint16(i)))
		if n >= 2 {
			for j, c := range copies {
				if got, _ := c.AppendJSON(nil, "", " "); string(got) != want[j] {
					t.Fatalf("after %d requests, copy %d writes\n%s\nwant\n%s", i+1, j, got, want[j])
				}
			}
		}
	}
}

// BenchmarkTrackEchoFlood: the tracker alone (no reading, decoding or
// report) on 409,600 unanswered echo requests 7 us apart, fed in batches
// as ReadFile feeds them: what --max-open's eviction and the linger cost
// per packet when every exchange is long out of the cache by then.
func BenchmarkTrackEchoFlood(b *testing.B) {
	const n = 1600 * batchSize
	batch := make([]Packet, batchSize)
	for b.Loop() {
		tr := NewTracker(nil)
		tr.Reuse = true
		emitted := 0
		tr.Emit = func(*Exchange) { emitted++ }
		for i := 0; i < n; i += len(batch) {
			for j := range batch {
				k := i + j
				batch[j] = Packet{Time: epoch.Add(time.Duration(k) * 7 * time.Microsecond), Kind: KindICMP4, ICMPType: 8,
					Src: netip.AddrFrom4([4]byte{10, 0, byte(k >> 16), 1}), Dst: srvAddr, ID: uint16(k), Seq: uint16(k >> 16), Point: -1}
			}
			for j := range batch {
				tr.AddMatched(&batch[j], true)
			}
		}
		tr.Flush()
		if emitted != n {
			b.Fatalf("%d exchanges emitted, want %d", emitted, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/packet")
}
