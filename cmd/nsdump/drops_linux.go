package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/drops"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace"
)

// dropRecorder is capture --drops: the kernel's drops in the captured
// namespaces (drops.Recorder), written beside the captured frames through
// one sink under one lock.
type dropRecorder struct {
	rec *drops.Recorder
	mu  sync.Mutex
}

// openDrops starts the monitor for the targets' namespaces and appends
// their NS/drops points. When the kernel or the process cannot, it says
// so once on stderr and capture goes on without drops (nil recorder).
func openDrops(stderr io.Writer, ts *topology.Targets, targets []capture.Target, points []capture.Point) (*dropRecorder, []capture.Point) {
	var namespaces []drops.Namespace
	for _, t := range targets {
		ino, err := namespaceInode(ts, t.Namespace)
		if err != nil {
			fmt.Fprintf(stderr, "nsdump: --drops: %v; capturing without drops\n", err)
			return nil, points
		}
		namespaces = append(namespaces, drops.Namespace{Name: t.Namespace, Inode: ino})
	}
	// A flood of drops waits in a 32 MiB ring (about 150,000 of them)
	// while the file is written.
	rec, err := drops.NewRecorder(namespaces, &drops.Config{RingBytes: 32 << 20})
	if err != nil {
		fmt.Fprintf(stderr, "nsdump: --drops: %v; capturing without drops\n", err)
		return nil, points
	}
	// Name the kernel's functions now, not while the first drops arrive.
	rec.Monitor().LoadSymbols()
	return &dropRecorder{rec: rec}, append(points, rec.Points(len(points), true)...)
}

func namespaceInode(ts *topology.Targets, ns string) (uint64, error) {
	h, err := ts.OpenNamespace(ns)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	return topology.Inode(h)
}

// guard serialises a sink function with the recorder's writes; a nil
// recorder leaves it as it is.
func (r *dropRecorder) guard(fn func() error) func() error {
	if r == nil || fn == nil {
		return fn
	}
	return func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		return fn()
	}
}

// frames is the captured frames' writer: sink, under the recorder's lock.
func (r *dropRecorder) frames(sink func(capture.Frame) error) func(capture.Frame) error {
	if r == nil {
		return sink
	}
	return func(f capture.Frame) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		return sink(f)
	}
}

// start writes every drop through sink until stop.
func (r *dropRecorder) start(ctx context.Context, sink func(capture.Frame) error) {
	if r != nil {
		r.rec.Start(ctx, r.frames(sink))
	}
}

// release frees the monitor when capture ends before it started.
func (r *dropRecorder) release() {
	if r != nil {
		r.rec.Close()
	}
}

// stop ends the monitor, reports what it recorded and lost, and returns
// the first error of reading or writing drops.
func (r *dropRecorder) stop(stderr io.Writer) error {
	if r == nil {
		return nil
	}
	recorded, lost, err := r.rec.Stop()
	fmt.Fprintf(stderr, "%s recorded, %d lost by the drop monitor\n", plural(recorded, "kernel drop"), lost)
	return err
}

// appendDropLine marks a kernel drop's line: "... DROP NETFILTER_DROP at
// nft_do_chain (veth1)". Captured packets have no drop.
func appendDropLine(line []byte, d *capture.Drop) []byte {
	if d == nil {
		return line
	}
	line = append(line, " DROP "...)
	return append(line, d.String()...)
}

// warnDrops says once why a trace ran without the kernel's drop reasons,
// and whether its monitor lost any.
func warnDrops(stderr io.Writer, res *trace.Result) {
	if res.DropsUnavailable != nil {
		fmt.Fprintf(stderr, "nsdump: %v; tracing without them\n", res.DropsUnavailable)
	}
	if res.DropsLost > 0 {
		fmt.Fprintf(stderr, "nsdump: the drop monitor lost %d kernel drops\n", res.DropsLost)
	}
}

// joinComments joins a frame's own comment (a kernel drop's reason) and
// the verdict it is evidence for.
func joinComments(own, verdict string) string {
	switch {
	case own == "":
		return verdict
	case verdict == "":
		return own
	}
	return own + "\n" + verdict
}
