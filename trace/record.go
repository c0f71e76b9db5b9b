package trace

import (
	"encoding/json"
	"fmt"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/judge"
)

// Record is the trace's facts and verdicts as JSON, for a file; nil when
// the trace has no facts (interrupted before its verdicts).
func (res *Result) Record() ([]byte, error) {
	if res.Facts == nil {
		return nil, nil
	}
	rec := facts.Record{Version: facts.FactsVersion, Facts: res.Facts, Verdicts: []facts.RecordedVerdict{}}
	for _, p := range res.Probes {
		rec.Verdicts = append(rec.Verdicts, verdictOf(p))
	}
	return json.Marshal(rec)
}

func verdictOf(p Probe) facts.RecordedVerdict {
	return facts.RecordedVerdict{Direction: p.Direction, Kind: p.Kind, Family: p.Family, OK: p.OK, Cause: p.Cause, Namespace: p.Namespace, Fix: p.Fix, Detail: p.Detail}
}

// Rejudged is a recorded trace judged again by this nsdump.
type Rejudged struct {
	Version  int                     // of the stored facts
	Recorded []facts.RecordedVerdict // as the trace that wrote them gave them
	Probes   []Probe                 // as this nsdump judges the facts, without sightings
	Port     uint16                  // the TCP probes'
	// Warning says, in one line, what limits the judgement (facts of a
	// later version); empty when nothing does.
	Warning string
	// Withheld says why no probe shows a fix or route lookup (a name in
	// the facts no command could be built on); empty when they do.
	Withheld string
	fixes    []string // as judged, withheld or not, for Differs
}

// Differs reports whether probe i's verdict is not the recorded one (its
// outcome, cause, namespace or fix; a detail reworded is not a new
// verdict), and the recorded one if there is one.
func (r *Rejudged) Differs(i int) (facts.RecordedVerdict, bool) {
	p := r.Probes[i]
	for _, v := range r.Recorded {
		if v.Direction == p.Direction && v.Kind == p.Kind && v.Family == p.Family {
			return v, v.OK != p.OK || v.Cause != p.Cause || v.Namespace != p.Namespace || v.Fix != r.fixes[i]
		}
	}
	return facts.RecordedVerdict{}, true
}

// Rejudge judges stored facts (what Result.Record wrote, padded with zero
// bytes or not) again. Facts it cannot read give an error, never a panic:
// they come from a file, and a file may be anything.
func Rejudge(data []byte) (res *Rejudged, err error) {
	rec, warning, err := facts.ReadRecord(data)
	if err != nil {
		return nil, err
	}
	defer func() {
		// The judgement reads facts it has checked the shape of; should
		// some combination still trip it, the file costs its verdicts,
		// not the command.
		if v := recover(); v != nil {
			res, err = nil, fmt.Errorf("the stored facts could not be judged: %v", v)
		}
	}()
	rec.Facts.SetBudget(workPerByte * len(data))
	defer showContainers(rec.Facts)()
	probes := judgeAll(rec.Facts)
	if rec.Facts.OverBudget() {
		return nil, fmt.Errorf("the stored facts could not be judged: their rules take more than %d comparisons (%d a byte), far more than a trace's", rec.Facts.Budget(), workPerByte)
	}
	rj := &Rejudged{Version: rec.Version, Recorded: rec.Verdicts, Probes: probes, Warning: warning}
	for i := range rj.Probes {
		rj.fixes = append(rj.fixes, rj.Probes[i].Fix)
	}
	if bad := rec.Facts.Unpasteable(); bad != "" {
		rj.Withheld = "no fix or route lookup shown: " + bad
		for i := range rj.Probes {
			rj.Probes[i].Fix, rj.Probes[i].RouteGet = "", nil
		}
	}
	for _, pf := range rec.Facts.Probes {
		if pf.Kind == "tcp" && rj.Port == 0 {
			rj.Port = pf.Request.DPort
		}
	}
	return rj, nil
}

// judgeAll judges every probe of the facts, each as trace shows it,
// without its sightings or round-trip time (the file's packets hold them).
func judgeAll(f *facts.Facts) []Probe {
	out := make([]Probe, 0, len(f.Probes))
	for _, pf := range f.Probes {
		if f.OverBudget() {
			break // the caller refuses the facts
		}
		p := Probe{Direction: pf.Direction, Kind: pf.Kind, Family: pf.Family}
		p.take(judge.Judge(f, pf))
		switch pf.Kind {
		case facts.KindTCP:
			p.Listener, p.Delivered = pf.Socket.Listener, pf.Socket.Delivered
		case facts.KindMTU:
			p.Sent, p.Received = pf.Socket.Count, pf.Socket.Received
		default:
			p.Sent, p.Received = pf.Socket.Sent, pf.Socket.Received
		}
		out = append(out, p)
	}
	return out
}

// workPerByte bounds the work of judging stored facts by their size:
// rules walked and values compared, per byte of the facts. Every recorded
// trace's facts take less than a quarter (TestJudgeWorkLinear); a file shaped
// to make each probe match every rule again runs out instead.
const workPerByte = 1

// showContainers makes the fixes judged from f enter the Docker and
// Podman containers' namespaces it shows as a live trace's do, by the
// engine and the container's name, until the returned func is called.
func showContainers(f *facts.Facts) (undo func()) {
	var undos []func()
	for shown, c := range f.EngineContainers() {
		if u, err := cmdline.ShowContainer(shown, c.Engine, c.Name); err == nil {
			undos = append(undos, u)
		}
	}
	return func() {
		for _, u := range undos {
			u()
		}
	}
}
