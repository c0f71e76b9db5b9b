package capture

import (
	"container/heap"
	"math"
	"time"
)

// merger orders the frames of several capture points by timestamp.
//
// Each point's socket hands its frames over a ring block at a time, in time
// order but for a little disorder (frames stamped on one CPU and queued on
// another). A frame goes out once no point can still hand over an earlier
// one: every point has shown a frame later than it by the slack (its mark)
// or has nothing waiting in the kernel (idle, see rxRing.idle) — or,
// whatever the others, once it has waited hold and no point has a block
// ready that is not taken yet. So frames wait about as
// long as the slowest busy socket takes to hand a block over (a full block,
// or its 10 ms timeout), not a fixed hold: under a flood the frames waiting
// are a block or two of each ring's.
//
// The merge keeps one queue per capture point and a heap of points keyed
// by their oldest frame: a frame costs an append and, once due, a
// comparison among the points. A queued frame is its timestamp and where
// it lies, 16 bytes.
type merger struct {
	hold  int64 // ns
	slack int64 // ns: the lateness allowed for; grows to twice the worst seen, up to hold
	out   int64 // the latest timestamp emitted
	// backlog: some point has a block ready that has not been taken yet
	// (one block per point is taken at a time). Its frames may be older
	// than those queued: nothing goes out on the hold alone meanwhile.
	backlog bool
	queues  []pointQueue
	heads   pointHeap // points with a queued frame, oldest head first
}

// minSlack is the least lateness the merge allows for: how long after its
// timestamp a frame may still reach its ring behind later ones. A frame
// received on a veth is stamped as it enters the receiving CPU's backlog
// and reaches the packet socket when that backlog is processed: under a
// flood, milliseconds later (3.5 ms measured on two busy cores), while the
// ring's current block may already be empty.
const minSlack = int64(5 * time.Millisecond)

type pointQueue struct {
	frames []held
	next   int   // frames[next:] are queued
	mark   int64 // the latest timestamp pushed, Unix ns
	idle   bool  // nothing waits for userland in the kernel: set before each flush
}

// held is a queued frame: its timestamp and where it lies: at off in its
// point's ring, or (off < 0) at -1-off in the spill.
type held struct {
	time int64 // Unix nanoseconds
	off  int
}

func newMerger(hold time.Duration, points int) *merger {
	m := &merger{hold: int64(hold), slack: min(minSlack, int64(hold)), queues: make([]pointQueue, points)}
	m.heads.m = m
	return m
}

// push queues a frame of point p.
func (m *merger) push(p int, f held) {
	q := &m.queues[p]
	// Later than allowed for: behind its own point's latest frame, or
	// behind frames already out.
	if late := max(q.mark, m.out) - f.time; late > 0 {
		m.slack = max(m.slack, min(2*late, m.hold))
	}
	q.mark = max(q.mark, f.time)
	empty := q.next == len(q.frames)
	q.frames = append(q.frames, f)
	// A timestamp older than the one before it moves back into place.
	i := len(q.frames) - 1
	for ; i > q.next && q.frames[i].time < q.frames[i-1].time; i-- {
		q.frames[i], q.frames[i-1] = q.frames[i-1], q.frames[i]
	}
	switch {
	case empty:
		heap.Push(&m.heads, p)
	case i == q.next: // a new oldest frame for this point
		if at := m.heads.index(p); at >= 0 {
			heap.Fix(&m.heads, at)
		}
	}
}

// setIdle records whether point p's kernel holds nothing for userland.
func (m *merger) setIdle(p int, idle bool) { m.queues[p].idle = idle }

// queued tells whether any frame waits.
func (m *merger) queued() bool { return len(m.heads.points) > 0 }

// due is the timestamp up to which no point can hand over an earlier frame
// than those queued, as of now (Unix ns).
func (m *merger) due(now int64) int64 {
	limit := int64(math.MaxInt64)
	for i := range m.queues {
		q := &m.queues[i]
		safe := q.mark
		if q.idle {
			safe = max(safe, now)
		}
		limit = min(limit, safe-m.slack)
	}
	return limit
}

// flush emits, oldest first, the frames that are due as of now (Unix ns;
// zero emits all) and reports whether it emitted any.
func (m *merger) flush(now int64, emit func(p int, f held)) bool {
	limit := int64(math.MaxInt64)
	if now != 0 {
		limit = m.due(now)
	}
	any := false
	for len(m.heads.points) > 0 {
		p := m.heads.points[0]
		q := &m.queues[p]
		f := q.frames[q.next]
		if f.time > limit && (m.backlog || now-f.time < m.hold) {
			break
		}
		q.next++
		if q.next == len(q.frames) {
			q.frames, q.next = q.frames[:0], 0
			heap.Pop(&m.heads)
		} else {
			if q.next > 1024 && q.next*2 > len(q.frames) {
				q.frames = q.frames[:copy(q.frames, q.frames[q.next:])]
				q.next = 0
			}
			heap.Fix(&m.heads, 0)
		}
		m.out = max(m.out, f.time)
		emit(p, f)
		any = true
	}
	return any
}

// pointHeap orders capture points by the time of their oldest queued frame.
type pointHeap struct {
	m      *merger
	points []int
}

func (h *pointHeap) head(p int) int64 {
	q := &h.m.queues[p]
	return q.frames[q.next].time
}

func (h *pointHeap) index(p int) int {
	for i, x := range h.points {
		if x == p {
			return i
		}
	}
	return -1
}

func (h *pointHeap) Len() int           { return len(h.points) }
func (h *pointHeap) Less(i, j int) bool { return h.head(h.points[i]) < h.head(h.points[j]) }
func (h *pointHeap) Swap(i, j int)      { h.points[i], h.points[j] = h.points[j], h.points[i] }
func (h *pointHeap) Push(x any)         { h.points = append(h.points, x.(int)) }
func (h *pointHeap) Pop() any {
	p := h.points[len(h.points)-1]
	h.points = h.points[:len(h.points)-1]
	return p
}
