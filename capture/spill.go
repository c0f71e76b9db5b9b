package capture

import "encoding/binary"

// spill holds the frames that still wait in the merge once their ring block
// has gone back to the kernel: a block is never kept while the merge waits
// for another point (which may be a block timeout or two, while the ring
// fills), so the whole ring stays the kernel's to fill. Frames are copied
// into 16 KiB chunks (a larger frame gets a chunk of its size), each freed
// when its last frame is out; under a two-point flood that is a few
// hundred KiB (the frames of the last ten milliseconds or so), where
// holding every frame for a fixed 50 ms took megabytes.
type spill struct {
	chunks [][]byte
	live   []int // frames not yet out, per chunk
	free   []int // chunk indices to reuse
	cur    int   // the chunk being filled; -1: none
}

const (
	spillChunk = 16 << 10
	spillHead  = 9  // captured length, wire length (uint32 each), direction
	spillKeep  = 16 // free chunks kept for reuse, beyond which they go to the collector
)

func newSpill() *spill { return &spill{cur: -1} }

// put copies a frame in and returns its reference (>= 0).
func (s *spill) put(data []byte, wireLen int, outgoing bool) int {
	need := spillHead + len(data)
	if s.cur < 0 || len(s.chunks[s.cur])+need > cap(s.chunks[s.cur]) {
		s.cur = s.chunk(need)
	}
	c := s.chunks[s.cur]
	at := len(c)
	c = binary.LittleEndian.AppendUint32(c, uint32(len(data)))
	c = binary.LittleEndian.AppendUint32(c, uint32(wireLen))
	dir := byte(0)
	if outgoing {
		dir = 1
	}
	s.chunks[s.cur] = append(append(c, dir), data...)
	s.live[s.cur]++
	return s.cur<<32 | at
}

// chunk returns an empty chunk that holds at least need bytes.
func (s *spill) chunk(need int) int {
	if s.cur >= 0 && s.live[s.cur] == 0 {
		s.release(s.cur) // filled, and already all out
	}
	size := max(spillChunk, need)
	for k, i := range s.free {
		if cap(s.chunks[i]) >= size {
			s.free = append(s.free[:k], s.free[k+1:]...)
			return i
		}
	}
	buf := make([]byte, 0, size)
	for i, c := range s.chunks {
		if c == nil {
			s.chunks[i] = buf
			return i
		}
	}
	s.chunks = append(s.chunks, buf)
	s.live = append(s.live, 0)
	return len(s.chunks) - 1
}

// get reads the frame at ref: bytes valid until done(ref).
func (s *spill) get(ref int) (data []byte, wireLen int, outgoing bool) {
	c, at := s.chunks[ref>>32], ref&(1<<32-1)
	n := int(binary.LittleEndian.Uint32(c[at:]))
	wireLen = int(binary.LittleEndian.Uint32(c[at+4:]))
	data = c[at+spillHead : at+spillHead+n : at+spillHead+n]
	return data, wireLen, c[at+8] == 1
}

// done lets the frame at ref go; its chunk goes when it was the last.
func (s *spill) done(ref int) {
	i := ref >> 32
	if s.live[i]--; s.live[i] == 0 && i != s.cur {
		s.release(i)
	}
}

func (s *spill) release(i int) {
	if i == s.cur {
		s.cur = -1
	}
	if len(s.free) < spillKeep {
		s.chunks[i] = s.chunks[i][:0]
		s.free = append(s.free, i)
		return
	}
	s.chunks[i] = nil
}
