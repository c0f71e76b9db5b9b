package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// grace is how long, after a signal, a write may still take before nsdump
// gives up on a reader that stopped reading: the last packets go out when
// the output flows, and a stalled pipe does not hold the command.
const grace = 300 * time.Millisecond

// errStalled is an output nobody reads any more.
var errStalled = errors.New("the output stopped being read; the last packets were not written")

// guard makes writes to w give up once ctx has ended and a write has
// taken longer than grace: a pipe whose reader stalled cannot hold a
// command past a signal. Each write runs on a goroutine of its own; one
// that never returns is left behind for the process exit to end.
type guard struct {
	ctx context.Context
	w   io.Writer
	err error
}

func newGuard(ctx context.Context, w io.Writer) *guard { return &guard{ctx: ctx, w: w} }

type written struct {
	n   int
	err error
}

func (g *guard) Write(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	done := make(chan written, 1)
	go func() {
		n, err := g.w.Write(p)
		done <- written{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-g.ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case r := <-done:
		return r.n, r.err
	case <-t.C:
		g.err = errStalled
		return 0, g.err
	}
}

// ctxReader makes reads of a pipe, FIFO or terminal end with the context.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	err error
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	// The goroutine reads into its own buffer: p belongs to the caller
	// again as soon as Read returns, even if the read never does.
	buf := make([]byte, len(p))
	done := make(chan written, 1)
	go func() {
		n, err := c.r.Read(buf)
		done <- written{n, err}
	}()
	select {
	case r := <-done:
		return copy(p, buf[:r.n]), r.err
	case <-c.ctx.Done():
		c.err = c.ctx.Err()
		return 0, c.err
	}
}

// openInput opens a capture file for reading; "-" is standard input.
// Waiting for a FIFO's writer, or for data from a pipe, ends with ctx.
func openInput(ctx context.Context, name string) (io.Reader, func() error, error) {
	if name == "-" {
		return wrapStream(ctx, os.Stdin), func() error { return nil }, nil
	}
	f, err := openWaiting(ctx, func() (*os.File, error) { return os.Open(name) })
	if err != nil && err == ctx.Err() {
		return nil, nil, fmt.Errorf("read %s: %w while waiting for a writer of the FIFO", name, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, errors.Unwrap(err))
	}
	return wrapStream(ctx, f), f.Close, nil
}

// wrapStream guards reads of anything but a regular file.
func wrapStream(ctx context.Context, f *os.File) io.Reader {
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		return f
	}
	return &ctxReader{ctx: ctx, r: f}
}

// openWaiting runs open, which may block on a FIFO until its other end
// comes, and gives up with ctx.Err() when ctx ends first; a file that opens
// after that is closed.
func openWaiting(ctx context.Context, open func() (*os.File, error)) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := open()
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-done; o.err == nil {
				o.f.Close() // the other end came after all
			}
		}()
		return nil, ctx.Err()
	}
}

// captureStamp is the section comment of the files nsdump capture writes.
const captureStamp = "captured by nsdump"
