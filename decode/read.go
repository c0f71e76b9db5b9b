package decode

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/nsdump/nsdump/capture"
)

// Report is `nsdump read --json`: packets counted once however many capture
// points saw them, and the exchanges they formed.
type Report struct {
	Packets   int         `json:"packets"`
	Exchanges []*Exchange `json:"exchanges"`
}

// Report returns what the tracker has seen so far.
func (t *Tracker) Report() Report {
	ex := t.Exchanges()
	if ex == nil {
		ex = []*Exchange{}
	}
	return Report{Packets: t.packets, Exchanges: ex}
}

// TruncatedError is a file that ends inside a packet record: a capture
// killed, or one still being written. Every packet before Offset was read.
type TruncatedError struct {
	Offset int64 // where the cut record starts
	Err    error
}

func (e *TruncatedError) Error() string {
	msg := e.Err.Error()
	var fe *capture.FormatError
	if errors.As(e.Err, &fe) {
		msg = fe.Msg
	}
	return fmt.Sprintf("cut short in the record at offset %d (%s)", e.Offset, msg)
}

func (e *TruncatedError) Unwrap() error { return e.Err }

// ReadFile feeds every packet of one capture file into t, with whether it
// matches filter (nil: all do): exchanges are selected by their packets,
// not packets before pairing. Capture points of the file are appended to
// t.Points. each, if not nil, is called with every matching packet and the
// name of its capture point. A file cut inside its last record gives a
// *TruncatedError after all packets before it.
//
// Reading, filtering and decoding run on one goroutine and tracking on the
// caller's, handing over batches of packets, so that two cores share the
// work; the order of packets is kept.
func ReadFile(r io.Reader, t *Tracker, filter *capture.FilterSet, each func(p *Packet, point string)) error {
	var withData func(*Packet, string, []byte)
	if each != nil {
		withData = func(p *Packet, point string, _ []byte) { each(p, point) }
	}
	return read(r, t, filter, withData, false)
}

// ReadFileFrames is ReadFile handing each also the frame's bytes (as
// captured), for printing them: valid only during the call.
func ReadFileFrames(r io.Reader, t *Tracker, filter *capture.FilterSet, each func(p *Packet, point string, data []byte)) error {
	return read(r, t, filter, each, each != nil)
}

func read(r io.Reader, t *Tracker, filter *capture.FilterSet, each func(p *Packet, point string, data []byte), keep bool) error {
	rd, err := capture.NewReader(r)
	if err != nil {
		return err
	}
	base := len(t.Points)
	t.file++ // a file's packet ids are its own
	full := make(chan *batch, 4)
	free := make(chan *batch, 4)
	for i := 0; i < cap(free); i++ {
		free <- &batch{}
	}
	stop := make(chan struct{})
	defer close(stop)
	go produce(rd, filter, full, free, stop, keep)
	for b := range full {
		t.Points = append(t.Points, b.points...)
		t.Comments = append(t.Comments, b.notes...)
		t.Custom = append(t.Custom, b.custom...)
		for i := range b.pkts {
			p := &b.pkts[i]
			p.Point += base
			match := b.match == nil || b.match[i]
			t.AddMatched(p, match)
			if each != nil && match {
				var data []byte
				if keep {
					from := 0
					if i > 0 {
						from = b.ends[i-1]
					}
					data = b.data[from:b.ends[i]]
				}
				each(p, t.Points[p.Point].Name, data)
			}
		}
		if b.err != nil {
			var fe *capture.FormatError
			if errors.As(b.err, &fe) && fe.Truncated {
				return &TruncatedError{Offset: b.good, Err: b.err}
			}
			return b.err
		}
		free <- b
	}
	return nil
}

// batch is a run of decoded packets handed from reader to tracker.
type batch struct {
	pkts   []Packet
	match  []bool                // per packet, whether it matched; nil without a filter
	points []capture.Point       // capture points the file declared since the last batch
	notes  []string              // section comments the file declared since the last batch
	custom []capture.CustomBlock // custom blocks read since the last batch
	err    error                 // what ended reading, after pkts
	good   int64                 // the offset after the last record read whole
	data   []byte                // the frames' bytes, one after another, when kept
	ends   []int                 // where each packet's bytes end in data
}

const batchSize = 256

// produce reads, filters and decodes into batches until the file ends, an
// error, or stop.
func produce(rd *capture.Reader, filter *capture.FilterSet, full chan<- *batch, free <-chan *batch, stop <-chan struct{}, keep bool) {
	defer close(full)
	d := NewDecoder()
	npoints, nnotes, ncustom, frame := 0, 0, 0, 0
	good := rd.Offset()
	for {
		var b *batch
		select {
		case b = <-free:
		case <-stop:
			return
		}
		b.pkts, b.match, b.points, b.notes, b.err = b.pkts[:0], b.match[:0], b.points[:0], b.notes[:0], nil
		b.custom = b.custom[:0]
		b.data, b.ends = b.data[:0], b.ends[:0]
		for len(b.pkts) < batchSize {
			f, err := rd.Next()
			if c := rd.Comments(); len(c) != nnotes {
				b.notes, nnotes = append(b.notes, c[nnotes:]...), len(c)
			}
			if c := rd.Custom(); len(c) != ncustom {
				b.custom, ncustom = append(b.custom, c[ncustom:]...), len(c)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if pts := rd.Points(); len(pts) != npoints {
				// Only the new ones: a file may declare an interface
				// before every packet, and copying all of them each time
				// made reading quadratic in the number of blocks.
				b.points, npoints = append(b.points, pts[npoints:]...), len(pts)
			}
			ok := true
			if err == nil && filter != nil {
				ok, err = filter.Match(f)
			}
			if err != nil {
				b.err, b.good = err, good
				break
			}
			good = rd.Offset()
			if filter != nil {
				b.match = append(b.match, ok)
			}
			// Decode writes the packet whole: appending a zero one wrote
			// its 648 bytes twice.
			b.pkts = slices.Grow(b.pkts, 1)[:len(b.pkts)+1]
			frame++
			d.Decode(f, &b.pkts[len(b.pkts)-1])
			b.pkts[len(b.pkts)-1].Frame = frame
			if keep {
				b.data = append(b.data, f.Data...)
				b.ends = append(b.ends, len(b.data))
			}
		}
		if filter == nil {
			b.match = nil
		}
		last := len(b.pkts) < batchSize
		select {
		case full <- b:
		case <-stop:
			return
		}
		if last {
			return
		}
	}
}
