package decode

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"runtime"
	"testing"
)

// interleavedNg builds a pcapng file that declares an interface before
// every packet, as merged or rotated captures do.
func interleavedNg(t testing.TB, pairs int) []byte {
	frame, err := hex.DecodeString(frames[0].hex)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b.Write(le.AppendUint32(le.AppendUint32(nil, typ), n))
		b.Write(body)
		b.Write(le.AppendUint32(nil, n))
	}
	block(0x0A0D0D0A, []byte{0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	for i := 0; i < pairs; i++ {
		idb := le.AppendUint32(le.AppendUint16(le.AppendUint16(nil, 1), 0), 65535)
		name := []byte("ns/if")
		idb = append(le.AppendUint16(le.AppendUint16(idb, 2), uint16(len(name))), name...)
		idb = append(idb, 0, 0, 0, 0, 0, 0, 0) // pad to 4, then opt_endofopt
		block(1, idb)
		epb := le.AppendUint32(nil, uint32(i))
		epb = le.AppendUint32(le.AppendUint32(epb, 0), uint32(i))
		epb = le.AppendUint32(le.AppendUint32(epb, uint32(len(frame))), uint32(len(frame)))
		block(6, append(epb, frame...))
	}
	return b.Bytes()
}

// TestReadInterleavedLinear: reading a file whose interface and packet
// blocks alternate does work in proportion to its blocks. The measure is
// bytes allocated, not time: ten times the blocks must cost about ten
// times the memory traffic (a copy of every interface so far per block,
// the quadratic bug, made it a hundred).
func TestReadInterleavedLinear(t *testing.T) {
	alloc := func(pairs int) uint64 {
		data := interleavedNg(t, pairs)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tr := NewTracker(nil)
		if err := ReadFile(bytes.NewReader(data), tr, nil, nil); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if len(tr.Points) != pairs || tr.Packets() == 0 {
			t.Fatalf("%d capture points, %d packets; want %d points", len(tr.Points), tr.Packets(), pairs)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(2000), alloc(20000)
	if ratio := float64(large) / float64(small); ratio > 25 {
		t.Fatalf("2,000 pairs allocate %d bytes, 20,000 pairs %d: %.0f times for 10 times the blocks", small, large, ratio)
	}
}
