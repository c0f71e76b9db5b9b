package trace

import (
	"bytes"
	"context"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/drops"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/judge"
)

// dropWatch is the drop monitor of one trace: the drops of every
// namespace on the path while the probes run, as frames on a point
// NS/drops each (drops.Recorder).
type dropWatch struct {
	rec    *drops.Recorder
	frames []capture.Frame
}

// openDropWatch starts the monitor on the namespaces of a and b and those
// between them. When the kernel or the process cannot, the error says what
// is missing and the trace goes on without kernel drops.
func openDropWatch(a, b *side, between []string) (*dropWatch, error) {
	var namespaces []drops.Namespace
	for _, s := range []*side{a, b} {
		ino, err := topology.Inode(s.ns)
		if err != nil {
			return nil, err
		}
		namespaces = append(namespaces, drops.Namespace{Name: s.name, Inode: ino})
	}
	for _, name := range between {
		ns, err := a.ts.OpenNamespace(name)
		if err != nil {
			return nil, err
		}
		ino, err := topology.Inode(ns)
		ns.Close()
		if err != nil {
			return nil, err
		}
		namespaces = append(namespaces, drops.Namespace{Name: name, Inode: ino})
	}
	rec, err := drops.NewRecorder(namespaces, nil)
	if err != nil {
		return nil, err
	}
	return &dropWatch{rec: rec}, nil
}

// start adds the drop points to res and keeps every drop until stop.
func (w *dropWatch) start(ctx context.Context, res *Result) {
	res.Points = append(res.Points, w.rec.Points(len(res.Points), true)...)
	res.dropInodes = map[string]uint64{}
	for _, p := range res.Points {
		if ino, ok := w.rec.Inode(p.Name); ok {
			res.dropInodes[p.Name] = ino
		}
	}
	w.rec.Start(ctx, func(f capture.Frame) error {
		f.Data = bytes.Clone(f.Data) // the recorder's buffer, until sink returns
		w.frames = append(w.frames, f)
		return nil
	})
}

// stop ends the monitor and merges its drops, in time order, with what was
// captured.
func (w *dropWatch) stop(res *Result) error {
	_, lost, err := w.rec.Stop()
	res.DropsLost = lost
	res.Frames = mergeFrames(res.Frames, w.frames)
	return err
}

// mergeFrames merges two time-ordered frame lists.
func mergeFrames(a, b []capture.Frame) []capture.Frame {
	if len(b) == 0 {
		return a
	}
	out := make([]capture.Frame, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].Time.Before(a[0].Time) {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// attachKernelDrops gives each probe the kernel drops of its own packets
// (the sightings on a NS/drops point), as the kernel reported them. What
// the judgement makes of them comes from the facts (kernelSaysOtherwise).
func (res *Result) attachKernelDrops() {
	for i := range res.Probes {
		p := &res.Probes[i]
		p.KernelDrops = []KernelDrop{}
		for _, s := range p.Seen {
			if s.Drop.IsZero() {
				continue
			}
			ns, _ := capture.DropsNamespace(s.Point)
			iface := s.Drop.Iface
			if iface == capture.NoDevice {
				iface = ""
			}
			kd := KernelDrop{Namespace: ns, Inode: res.dropInodes[s.Point],
				Reason: s.Drop.Reason, Location: s.Drop.Location, Interface: iface, Time: s.Time, What: decode.PacketNoun(decode.ExchangeKind(p.Kind), s.What)}
			if st := res.Facts.State(ns); st != nil {
				kd.Container = st.Container
			}
			kd.Stray = judge.Stray(res.Facts.Probes[i], facts.KernelDropSeen{Namespace: kd.Namespace, Reason: kd.Reason, Location: kd.Location})
			p.KernelDrops = append(p.KernelDrops, kd)
		}
	}
}
