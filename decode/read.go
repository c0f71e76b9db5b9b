package decode

import (
	"errors"
	"io"

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
	ex := t.all
	if ex == nil {
		ex = []*Exchange{}
	}
	return Report{Packets: t.packets, Exchanges: ex}
}

// ReadFile feeds every packet of one capture file that passes filter (nil:
// all) into t. Capture points of the file are appended to t.Points. each,
// if not nil, is called with every decoded packet and the name of its
// capture point.
//
// Reading and decoding run on one goroutine and tracking on the caller's,
// handing over batches of packets, so that two cores share the work; the
// order of packets is kept.
func ReadFile(r io.Reader, t *Tracker, filter *capture.FilterSet, each func(p *Packet, point string)) error {
	rd, err := capture.NewReader(r)
	if err != nil {
		return err
	}
	base := len(t.Points)
	full := make(chan *batch, 4)
	free := make(chan *batch, 4)
	for i := 0; i < cap(free); i++ {
		free <- &batch{}
	}
	stop := make(chan struct{})
	defer close(stop)
	go produce(rd, filter, full, free, stop)
	for b := range full {
		if b.points != nil {
			t.Points = append(t.Points[:base], b.points...)
		}
		for i := range b.pkts {
			p := &b.pkts[i]
			p.Point += base
			t.Add(p)
			if each != nil {
				each(p, t.Points[p.Point].Name)
			}
		}
		if b.err != nil {
			return b.err
		}
		free <- b
	}
	return nil
}

// batch is a run of decoded packets handed from reader to tracker.
type batch struct {
	pkts   []Packet
	points []capture.Point // set when the file declared new capture points
	err    error           // what ended reading, after pkts
}

const batchSize = 256

// produce reads, filters and decodes into batches until the file ends, an
// error, or stop.
func produce(rd *capture.Reader, filter *capture.FilterSet, full chan<- *batch, free <-chan *batch, stop <-chan struct{}) {
	defer close(full)
	d := NewDecoder()
	npoints := 0
	for {
		var b *batch
		select {
		case b = <-free:
		case <-stop:
			return
		}
		b.pkts, b.points, b.err = b.pkts[:0], nil, nil
		for len(b.pkts) < batchSize {
			f, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if pts := rd.Points(); len(pts) != npoints {
				b.points, npoints = append([]capture.Point(nil), pts...), len(pts)
			}
			if err == nil {
				var ok bool
				if ok, err = filter.Match(f); err == nil && !ok {
					continue
				}
			}
			if err != nil {
				b.err = err
				break
			}
			b.pkts = append(b.pkts, Packet{})
			d.Decode(f, &b.pkts[len(b.pkts)-1])
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
