package drops

import (
	"context"

	"github.com/nsdump/nsdump/capture"
)

// Namespace is one namespace whose drops a Recorder records.
type Namespace struct {
	Name  string // as the user named it: the point is Name/drops
	Inode uint64
}

// Recorder records the kernel's drops in some namespaces as packets on
// one capture point NS/drops per namespace (capture.DropsPoint), beside
// the frames captured there: the one place where a drop becomes a frame.
type Recorder struct {
	mon      *Monitor
	names    []Namespace
	index    map[uint64]int // namespace inode -> its place in names
	base     int            // the point of names[0]
	recorded int
	cancel   context.CancelFunc
	done     chan error
}

// NewRecorder opens the monitor for the namespaces (each inode once).
// The error wraps ErrUnavailable when the kernel or the process cannot
// report drops; the caller goes on without them.
func NewRecorder(namespaces []Namespace, cfg *Config) (*Recorder, error) {
	r := &Recorder{index: map[uint64]int{}}
	var inodes []uint64
	for _, ns := range namespaces {
		if _, dup := r.index[ns.Inode]; dup {
			continue
		}
		r.index[ns.Inode] = len(r.names)
		r.names = append(r.names, ns)
		inodes = append(inodes, ns.Inode)
	}
	mon, err := Open(inodes, cfg)
	if err != nil {
		return nil, err
	}
	r.mon = mon
	return r, nil
}

// Monitor is the recorder's monitor, for LoadSymbols.
func (r *Recorder) Monitor() *Monitor { return r.mon }

// Points are the NS/drops points, one per namespace, numbered from base
// (the number of points captured beside them). describe adds a point
// description for the file.
func (r *Recorder) Points(base int, describe bool) []capture.Point {
	r.base = base
	points := make([]capture.Point, 0, len(r.names))
	for _, ns := range r.names {
		p := capture.Point{Name: capture.DropsPoint(ns.Name), LinkType: capture.LinkEthernet, SnapLen: capture.MaxSnapLen}
		if describe {
			p.Description = capture.PointInfo{Namespace: ns.Name, Inode: ns.Inode, Drops: true}.Description()
		}
		points = append(points, p)
	}
	return points
}

// Inode is the inode of the namespace whose drops point is named point.
func (r *Recorder) Inode(point string) (uint64, bool) {
	for _, ns := range r.names {
		if capture.DropsPoint(ns.Name) == point {
			return ns.Inode, true
		}
	}
	return 0, false
}

// Start hands every drop to sink as a frame on its namespace's point
// until Stop. The frame's Data is only valid until sink returns; its Drop
// and Comment are the kernel's reason, location and device, made once for
// each of them, not for each drop.
func (r *Recorder) Start(ctx context.Context, sink func(capture.Frame) error) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan error, 1)
	go func() {
		var buf []byte
		var werr error
		type note struct {
			drop    *capture.Drop
			comment string
		}
		notes := map[capture.Drop]note{}
		err := r.mon.Run(ctx, func(d Drop) {
			if werr != nil {
				return
			}
			k := d.typed()
			n, ok := notes[k]
			if !ok {
				n = note{&k, k.Comment()}
				notes[k] = n
			}
			buf = d.AppendEthernet(buf[:0])
			werr = sink(capture.Frame{Time: d.Time, Point: r.base + r.index[d.Netns], LinkType: capture.LinkEthernet, Dir: capture.DirIn,
				Len: EthernetHeaderLen + max(d.Len, len(d.Data)), Data: buf, Comment: n.comment, Drop: n.drop})
			if werr == nil {
				r.recorded++
			}
		})
		if err == nil {
			err = werr
		}
		r.done <- err
	}()
}

// Stop ends recording and returns how many drops were recorded, how many
// the monitor had no room for, and the first error of reading them or of
// sink. It frees the monitor.
func (r *Recorder) Stop() (recorded int, lost uint64, err error) {
	r.cancel()
	err = <-r.done
	lost = r.mon.Lost()
	r.mon.Close()
	return r.recorded, lost, err
}

// Close frees the monitor of a recorder never started.
func (r *Recorder) Close() { r.mon.Close() }
