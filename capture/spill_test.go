package capture

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestSpill: frames of every size, a whole GSO frame and a full snap length
// among them, come back as they went in, let go in any order; chunks are
// reused, and what is let go does not stay.
func TestSpill(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	s := newSpill()
	type frame struct {
		ref, wire int
		out       bool
		data      []byte
	}
	var live []frame
	for round := 0; round < 50; round++ {
		for i := 0; i < 500; i++ {
			n := r.Intn(1600)
			switch r.Intn(200) {
			case 0:
				n = 65536
			case 1:
				n = MaxSnapLen
			}
			data := make([]byte, n)
			r.Read(data)
			f := frame{wire: n + r.Intn(100), out: r.Intn(2) == 0, data: data}
			f.ref = s.put(data, f.wire, f.out)
			live = append(live, f)
		}
		r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		keep := r.Intn(len(live) / 4)
		for _, f := range live[keep:] {
			data, wire, out := s.get(f.ref)
			if !bytes.Equal(data, f.data) || wire != f.wire || out != f.out {
				t.Fatalf("round %d: frame of %d bytes came back as %d bytes, wire %d (want %d), out %v (want %v)", round, len(f.data), len(data), wire, f.wire, out, f.out)
			}
			s.done(f.ref)
		}
		live = live[:keep]
	}
	for _, f := range live {
		s.done(f.ref)
	}
	held := 0
	for _, c := range s.chunks {
		held += cap(c)
	}
	if held > (spillKeep+1)*MaxSnapLen+spillHead {
		t.Errorf("%d bytes of chunks kept once every frame was let go", held)
	}
}
