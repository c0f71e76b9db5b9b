package capture

import (
	"math/rand"
	"testing"
	"time"
)

// TestMergerOrders: frames from several points, each mostly in order with
// a few stamped late, come out in time order; nothing younger than the
// hold leaves before a zero flush; nothing is lost.
func TestMergerOrders(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	base := time.Unix(1700000000, 0)
	const points, n = 7, 5000
	m := newMerger(50*time.Millisecond, points)
	var out []Frame
	emit := func(f Frame) { out = append(out, f) }
	clock := [points]time.Duration{}
	for i := 0; i < n; i++ {
		p := r.Intn(points)
		clock[p] += time.Duration(r.Intn(1000)) * time.Microsecond
		ts := clock[p]
		if r.Intn(50) == 0 {
			ts -= 300 * time.Microsecond // stamped on another CPU
		}
		m.push(Frame{Point: p, Time: base.Add(ts), Len: i})
		if i%100 == 0 {
			m.flush(base.Add(ts), emit)
		}
	}
	for _, f := range out {
		if f.Time.After(base.Add(clock[f.Point])) {
			t.Fatalf("frame at %v left before its hold", f.Time)
		}
	}
	m.flush(time.Time{}, emit)
	if len(out) != n {
		t.Fatalf("%d frames out, %d in", len(out), n)
	}
	seen := map[int]bool{}
	for i, f := range out {
		seen[f.Len] = true
		if i > 0 && f.Time.Before(out[i-1].Time) && out[i-1].Time.Sub(f.Time) > 300*time.Microsecond {
			t.Fatalf("frame %d at %v after one at %v", i, f.Time, out[i-1].Time)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct frames, want %d", len(seen), n)
	}
}
