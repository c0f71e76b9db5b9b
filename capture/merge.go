package capture

import (
	"container/heap"
	"time"
)

// merger orders frames from several sockets by timestamp, holding each a
// little while so that a slower socket's earlier frame can still go first.
//
// Each socket delivers its frames in time order, so the merge keeps one
// queue per capture point and a heap of points keyed by their oldest
// frame: a frame costs an append and, once due, a comparison among the
// points, not a sift through every frame held (a heap of all frames spent
// most of a flood's CPU swapping them).
//
// A frame waits as a held record, less than half a Frame's size: under a
// flood the hold is most of a capture's memory. Only what a live capture
// sets is kept (Time, LinkType, Dir, Len, Data; the point is the queue's).
type merger struct {
	hold   time.Duration
	queues []pointQueue
	heads  pointHeap // points with a queued frame, oldest head first
}

type pointQueue struct {
	frames []held
	next   int // frames[next:] are queued
}

// held is a queued frame.
type held struct {
	data     []byte
	time     int64 // Unix nanoseconds
	len      int32
	linkType LinkType
	dir      Direction
}

func (h *held) frame(point int) Frame {
	return Frame{Time: time.Unix(0, h.time), Point: point, LinkType: h.linkType, Dir: h.dir, Len: int(h.len), Data: h.data}
}

func newMerger(hold time.Duration, points int) *merger {
	m := &merger{hold: hold, queues: make([]pointQueue, points)}
	m.heads.m = m
	return m
}

func (m *merger) push(f Frame) {
	if f.Point >= len(m.queues) {
		m.queues = append(m.queues, make([]pointQueue, f.Point+1-len(m.queues))...)
	}
	q := &m.queues[f.Point]
	empty := q.next == len(q.frames)
	q.frames = append(q.frames, held{data: f.Data, time: f.Time.UnixNano(), len: int32(f.Len), linkType: f.LinkType, dir: f.Dir})
	// A timestamp older than the one before it (rare: packets stamped on
	// different CPUs) moves back into place.
	i := len(q.frames) - 1
	for ; i > q.next && q.frames[i].time < q.frames[i-1].time; i-- {
		q.frames[i], q.frames[i-1] = q.frames[i-1], q.frames[i]
	}
	switch {
	case empty:
		heap.Push(&m.heads, f.Point)
	case i == q.next: // a new oldest frame for this point
		if at := m.heads.index(f.Point); at >= 0 {
			heap.Fix(&m.heads, at)
		}
	}
}

// flush emits frames older than now minus hold (a zero now emits all) and
// reports whether it emitted any.
func (m *merger) flush(now time.Time, emit func(Frame)) bool {
	any := false
	for len(m.heads.points) > 0 {
		p := m.heads.points[0]
		q := &m.queues[p]
		f := q.frames[q.next].frame(p)
		if !now.IsZero() && now.Sub(f.Time) < m.hold {
			break
		}
		q.frames[q.next] = held{} // let the data go
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
		emit(f)
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
