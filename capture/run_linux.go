package capture

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// mergeHold is the longest a frame waits for the other capture points
// before it goes out whatever they may still hand over. A busy socket's
// block reaches userland when full or on its timeout, which the kernel
// checks on a timer armed when the block opens: within twice the timeout.
// Twice that again leaves room for a loaded machine.
const mergeHold = 4 * blockTimeout

// run is one Session.Run: every socket read in place by the one goroutine
// that calls Run, the frames merged in time order and handed to fn from
// the rings' own memory. What is due when its block arrives goes out from
// the ring; what must wait for another point is copied (spill) and the
// block goes back to the kernel at once. Nothing is allocated per frame: a
// flood costs the rings and the few milliseconds of frames that wait.
type run struct {
	s      *Session
	m      *merger
	spill  *spill
	fn     func(Frame) error
	count  int
	st     Stats
	fnErr  error  // fn failed: nothing more is handed over
	srcErr error  // a socket failed, or its capture point went away
	ended  []bool // sources no longer read
	fds    []unix.PollFd
	polled []int // the source of each fds entry
}

// Run reads every socket until ctx ends, count frames were handed over
// (count > 0), or a socket fails, calling fn for each frame in timestamp
// order and idle (if not nil) after each batch, so that a printer can flush.
// A Frame's Data is the ring's own memory, valid only during the call to
// fn: copy what is kept. The calling goroutine reads every socket and
// closes it.
func (s *Session) Run(ctx context.Context, count int, fn func(Frame) error, idle func() error) (Stats, error) {
	r := &run{s: s, m: newMerger(mergeHold, len(s.sources)), spill: newSpill(), fn: fn, count: count, ended: make([]bool, len(s.sources))}
	nextCheck := time.Now().Add(checkEvery)
	var drainUntil time.Time
	for !r.finished() {
		took := r.take()
		now := time.Now()
		if r.m.flush(now.UnixNano(), r.emit) && idle != nil && r.fnErr == nil {
			r.fnErr = idle()
		}
		r.giveBack()
		if ctx.Err() != nil || r.srcErr != nil {
			// Once stopped, frames already on their way (a block the
			// kernel hands over within its timeout) are still taken, for
			// at most a poll timeout: the reply that came just before
			// Ctrl-C counts.
			if drainUntil.IsZero() {
				drainUntil = now.Add(s.cfg.PollTimeout)
			}
			if now.After(drainUntil) || r.drained() {
				break
			}
		}
		if now.After(nextCheck) {
			nextCheck = now.Add(checkEvery)
			r.checkNamespaces()
		}
		if !took {
			r.wait(ctx.Err() != nil)
		}
	}
	r.m.flush(0, r.emit)
	for _, src := range s.sources {
		if received, dropped, err := src.ring.stats(); err == nil {
			r.st.Received += received
			r.st.Dropped += dropped
		}
	}
	// Closing a socket waits out RCU grace periods in the kernel, as
	// opening it does: one after the other, a trace's few sockets took a
	// tenth of a second or more on a loaded machine; at once, the waits
	// overlap. Nothing reads them any more.
	parallel(len(s.sources), func(i int) error {
		s.sources[i].ring.close()
		s.sources[i].ring = nil
		return nil
	})
	s.sources = nil
	if r.fnErr != nil {
		return r.st, r.fnErr
	}
	return r.st, r.srcErr
}

func (r *run) finished() bool {
	if r.fnErr != nil || r.count > 0 && r.st.Captured >= r.count {
		return true
	}
	for _, e := range r.ended {
		if !e {
			return false
		}
	}
	return true
}

// drained tells whether nothing is queued and no kernel holds a frame.
func (r *run) drained() bool {
	if r.m.queued() {
		return false
	}
	for i, src := range r.s.sources {
		if !r.ended[i] && !src.ring.idle() {
			return false
		}
	}
	return true
}

// take queues the frames of the next block each kernel has handed over,
// one block per socket so that the merge and giveBack keep what waits to a
// block or two of each (after the process was kept off the CPU, a ring
// can hold a dozen), and notes which points have nothing more waiting; it
// reports whether it took any block.
func (r *run) take() bool {
	took := false
	r.m.backlog = false
	for i, src := range r.s.sources {
		if r.ended[i] {
			r.m.setIdle(i, true) // nothing more comes from it
			continue
		}
		ring := src.ring
		if blk, ok := ring.take(); ok {
			took = true
			r.queue(i, ring, blk)
		}
		r.m.setIdle(i, ring.idle())
		r.m.backlog = r.m.backlog || ring.ready()
	}
	return took
}

// queue pushes the frames of block blk of point i into the merge (those
// the filter keeps, when it runs here), or gives an empty block back.
func (r *run) queue(i int, ring *rxRing, blk int) {
	n := int32(0)
	ring.eachFrame(blk, func(off int, ts int64) {
		if flt := r.s.sources[i].filter; !flt.FitsKernel() {
			data, wireLen, _ := ring.frame(off)
			if !flt.MatchLen(data, wireLen) {
				return
			}
		}
		r.m.push(i, held{time: ts, off: off})
		n++
	})
	ring.held[blk] = n
	if n == 0 {
		ring.release(blk)
	}
}

// giveBack copies the frames still queued from blocks in hand into the
// spill and returns those blocks to their kernels.
func (r *run) giveBack() {
	for i, src := range r.s.sources {
		ring := src.ring
		if ring.taken == 0 {
			continue
		}
		q := &r.m.queues[i]
		for k := q.next; k < len(q.frames); k++ {
			if f := &q.frames[k]; f.off >= 0 {
				f.off = -1 - r.spill.put(ring.frame(f.off))
			}
		}
		for blk, n := range ring.held {
			if n > 0 {
				ring.held[blk] = 0
				ring.release(blk)
			}
		}
	}
}

// emit hands one frame to fn, unless fn failed or the count is reached,
// and lets its ring block or spill go once the last frame in it is out.
func (r *run) emit(p int, f held) {
	ring := r.s.sources[p].ring
	if r.fnErr == nil && (r.count <= 0 || r.st.Captured < r.count) {
		var data []byte
		var wireLen int
		var outgoing bool
		if f.off >= 0 {
			data, wireLen, outgoing = ring.frame(f.off)
		} else {
			data, wireLen, outgoing = r.spill.get(-1 - f.off)
		}
		kept := data[:min(len(data), r.s.cfg.SnapLen)]
		fr := Frame{Time: time.Unix(0, f.time), Point: p, LinkType: r.s.sources[p].point.LinkType, Len: max(wireLen, len(kept)), Data: kept, Dir: DirIn}
		if outgoing {
			fr.Dir = DirOut
		}
		if err := r.fn(fr); err != nil {
			r.fnErr = err
		} else {
			r.st.Captured++
		}
	}
	if f.off < 0 {
		r.spill.done(-1 - f.off)
		return
	}
	blk := f.off / ring.block
	if ring.held[blk]--; ring.held[blk] == 0 {
		ring.release(blk)
	}
}

// wait blocks until a socket gets a block, or a timeout: the poll
// timeout, or while frames are queued the slack (a quiet point's frames go
// out once it has passed). It runs after giveBack: with a block in hand,
// poll would report that block at once.
func (r *run) wait(stopping bool) {
	timeout := r.s.cfg.PollTimeout
	if r.m.queued() || stopping {
		timeout = min(timeout, max(time.Duration(r.m.slack), time.Millisecond))
	}
	r.fds, r.polled = r.fds[:0], r.polled[:0]
	for i, src := range r.s.sources {
		if !r.ended[i] {
			r.fds = append(r.fds, unix.PollFd{Fd: int32(src.ring.fd), Events: unix.POLLIN | unix.POLLERR})
			r.polled = append(r.polled, i)
		}
	}
	_, err := unix.Poll(r.fds, max(int(timeout/time.Millisecond), 1))
	if err != nil && !errors.Is(err, unix.EINTR) {
		for i := range r.ended {
			r.end(i, fmt.Errorf("capture: poll: %w", err))
		}
		return
	}
	for k, fd := range r.fds {
		if fd.Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			r.socketError(r.polled[k])
		}
	}
}

// socketError: the kernel reports ENETDOWN on a socket when its interface
// goes down or is unregistered. Gone, the point ends; down, the error is
// cleared and the socket read on (it captures again once the link is up).
func (r *run) socketError(i int) {
	src := r.s.sources[i]
	if err := src.stillThere(); err != nil {
		r.end(i, err)
		return
	}
	src.ring.clearError()
}

// checkNamespaces ends the points whose namespace lost its name. The
// socket holds its namespace alive: ip netns del (or nsdump teardown) only
// unmounts the name, and the veth in it lives on with nothing sending.
func (r *run) checkNamespaces() {
	for i, src := range r.s.sources {
		if !r.ended[i] {
			if err := src.namespaceThere(); err != nil {
				r.end(i, err)
			}
		}
	}
}

// end stops reading source i: a vanished point is skipped when the config
// says so, any other end is the capture's error.
func (r *run) end(i int, err error) {
	if r.ended[i] {
		return
	}
	r.ended[i] = true
	if r.s.cfg.SkipVanished && errors.Is(err, ErrVanished) {
		r.s.skip(err) // one point gone: the others go on
		return
	}
	if r.srcErr == nil {
		r.srcErr = err
	}
}
