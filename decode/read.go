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
func ReadFile(r io.Reader, t *Tracker, filter *capture.FilterSet, each func(p *Packet, point string)) error {
	rd, err := capture.NewReader(r)
	if err != nil {
		return err
	}
	base := len(t.Points)
	d := NewDecoder()
	var p Packet
	for {
		f, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if pts := rd.Points(); base+len(pts) != len(t.Points) {
			t.Points = append(t.Points[:base], pts...)
		}
		if ok, err := filter.Match(f); err != nil {
			return err
		} else if !ok {
			continue
		}
		f.Point += base
		d.Decode(f, &p)
		t.Add(&p)
		if each != nil {
			each(&p, t.Points[f.Point].Name)
		}
	}
}
