package capture

import (
	"math/rand"
	"testing"
	"time"
)

// TestMergerOrders: frames from several points, each mostly in order with
// a few stamped late, come out in time order; nothing leaves while a busy
// point may still hand over an earlier frame; nothing is lost.
func TestMergerOrders(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	base := time.Unix(1700000000, 0).UnixNano()
	const points, n = 7, 5000
	m := newMerger(50*time.Millisecond, points)
	type out struct {
		p    int
		time int64
		id   int
	}
	var got []out
	clock := [points]int64{}
	emit := func(p int, f held) {
		// Every point has shown a frame later than this one by the
		// slack, or it waited out the hold.
		for q := range clock {
			if clock[q] == 0 || base+clock[q]-m.slack < f.time {
				t.Fatalf("frame of point %d at %d left while point %d had only shown %d", p, f.time-base, q, clock[q])
			}
		}
		got = append(got, out{p, f.time, f.off})
	}
	for i := 0; i < n; i++ {
		p := r.Intn(points)
		clock[p] += int64(r.Intn(1000)) * int64(time.Microsecond)
		ts := clock[p]
		if r.Intn(50) == 0 {
			ts -= int64(300 * time.Microsecond) // stamped on another CPU
		}
		m.push(p, held{time: base + ts, off: i})
		if i%100 == 0 {
			m.flush(base+ts, emit) // every point busy: only the marks count
		}
	}
	m.flush(0, func(p int, f held) { got = append(got, out{p, f.time, f.off}) })
	if len(got) != n {
		t.Fatalf("%d frames out, %d in", len(got), n)
	}
	seen := map[int]bool{}
	for i, f := range got {
		seen[f.id] = true
		if i > 0 && f.time < got[i-1].time {
			t.Fatalf("frame %d at %d after one at %d", i, f.time-base, got[i-1].time-base)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct frames, want %d", len(seen), n)
	}
	if m.slack < int64(600*time.Microsecond) {
		t.Errorf("slack %v after frames 300µs out of order, want at least twice that", time.Duration(m.slack))
	}
}

// TestMergerWaits: a frame waits for a busy point that has shown nothing
// as late, and goes once that point shows a later frame, once it is idle
// (nothing in its kernel) and the slack has passed, or after the hold.
func TestMergerWaits(t *testing.T) {
	const ms = int64(time.Millisecond)
	t0 := time.Unix(1700000000, 0).UnixNano()
	for _, tt := range []struct {
		name    string
		other   int64 // the other point's latest frame, 0: none
		idle    bool  // the other point's kernel holds nothing
		now     int64 // after t0
		emitted bool
	}{
		{"busy, behind", 0, false, 5 * ms, false},
		{"busy, caught up less than the slack", t0 + 4*ms, false, 5 * ms, false},
		{"busy, caught up", t0 + 6*ms, false, 10 * ms, true},
		{"idle, within the slack", 0, true, 4 * ms, false},
		{"idle, past the slack", 0, true, 6 * ms, true},
		{"busy, hold passed", 0, false, 50 * ms, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMerger(50*time.Millisecond, 2)
			m.push(0, held{time: t0})
			m.setIdle(0, true)
			if tt.other != 0 {
				m.push(1, held{time: tt.other, off: 1}) // stays: it is later than now
			}
			m.setIdle(1, tt.idle)
			var out []held
			m.flush(t0+tt.now, func(p int, f held) { out = append(out, f) })
			if got := len(out) > 0 && out[0].time == t0; got != tt.emitted || len(out) > 1 {
				t.Fatalf("emitted %v, want %v", out, tt.emitted)
			}
		})
	}
}

// BenchmarkMergeTwoPoints: the merge of a two-point capture under a flood,
// per frame: each point hands over blocks of 900 frames 1 µs apart, the
// other point's stamps 20 µs behind, and what is due goes out after each
// block, the rest spilled and let go when out, as Run does. No allocation
// per frame once the queues and chunks have grown.
func BenchmarkMergeTwoPoints(b *testing.B) {
	m := newMerger(mergeHold, 2)
	s := newSpill()
	data := make([]byte, 64)
	emit := func(p int, f held) {
		if f.off < 0 {
			s.get(-1 - f.off)
			s.done(-1 - f.off)
		}
	}
	const block = 900
	t0 := time.Unix(1700000000, 0).UnixNano()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 2 * block {
		for p := 0; p < 2; p++ {
			for k := 0; k < block; k++ {
				m.push(p, held{time: t0 + int64(i+k)*1000 + int64(p)*20000, off: k * 152})
			}
			m.flush(t0+int64(i)*1000, emit)
			q := &m.queues[p]
			for k := q.next; k < len(q.frames); k++ {
				if f := &q.frames[k]; f.off >= 0 {
					f.off = -1 - s.put(data, 64, p == 0)
				}
			}
		}
	}
}

// TestMergerBacklog: while a point has a block ready that is not taken yet,
// a frame does not go out on the hold alone (the block may hold earlier
// frames of that point); once nothing is ready, it does.
func TestMergerBacklog(t *testing.T) {
	t0 := time.Unix(1700000000, 0).UnixNano()
	m := newMerger(40*time.Millisecond, 2)
	m.push(1, held{time: t0})
	m.setIdle(1, true)
	m.backlog = true
	emitted := 0
	m.flush(t0+int64(time.Second), func(int, held) { emitted++ })
	if emitted != 0 {
		t.Fatal("a frame went out on the hold while a block was ready")
	}
	m.backlog = false
	m.flush(t0+int64(time.Second), func(int, held) { emitted++ })
	if emitted != 1 {
		t.Fatalf("%d frames out once nothing was ready, want 1", emitted)
	}
}
