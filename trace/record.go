package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
)

// FactsPEN is the Private Enterprise Number of the pcapng Custom Block in
// which `trace -w` stores its facts. nsdump has no PEN of its own: this is
// 32473, the one RFC 5612 sets aside for documentation and examples, a
// placeholder until it has one. Another tool may use it too, so a reader
// also checks the block's JSON for its "nsdump_facts" version.
const FactsPEN = 32473

// FactsVersion is the version of the stored facts this nsdump writes;
// it reads every version up to it, and judges a later one as far as it
// understands it.
const FactsVersion = 1

// Record is what `trace -w` stores in its file: the facts, and the
// verdicts the trace gave them.
type Record struct {
	Version  int               `json:"nsdump_facts"`
	Facts    *Facts            `json:"facts"`
	Verdicts []RecordedVerdict `json:"verdicts"`
}

// RecordedVerdict is a probe's verdict as a record keeps it.
type RecordedVerdict struct {
	Direction string `json:"direction"`
	Kind      string `json:"kind"`
	Family    int    `json:"family"`
	OK        bool   `json:"ok"`
	Cause     string `json:"cause"`
	Namespace string `json:"namespace"`
	Fix       string `json:"fix"`
	Detail    string `json:"detail,omitempty"`
}

// Record is the trace's facts and verdicts as JSON, for a file; nil when
// the trace has no facts (interrupted before its verdicts).
func (res *Result) Record() ([]byte, error) {
	if res.Facts == nil {
		return nil, nil
	}
	rec := Record{Version: FactsVersion, Facts: res.Facts, Verdicts: []RecordedVerdict{}}
	for _, p := range res.Probes {
		rec.Verdicts = append(rec.Verdicts, verdictOf(p))
	}
	return json.Marshal(rec)
}

func verdictOf(p Probe) RecordedVerdict {
	return RecordedVerdict{Direction: p.Direction, Kind: p.Kind, Family: p.Family, OK: p.OK, Cause: p.Cause, Namespace: p.Namespace, Fix: p.Fix, Detail: p.Detail}
}

// Rejudged is a recorded trace judged again by this nsdump.
type Rejudged struct {
	Version  int               // of the stored facts
	Recorded []RecordedVerdict // as the trace that wrote them gave them
	Probes   []Probe           // as this nsdump judges the facts, without sightings
	Port     uint16            // the TCP probes'
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
func (r *Rejudged) Differs(i int) (RecordedVerdict, bool) {
	p := r.Probes[i]
	for _, v := range r.Recorded {
		if v.Direction == p.Direction && v.Kind == p.Kind && v.Family == p.Family {
			return v, v.OK != p.OK || v.Cause != p.Cause || v.Namespace != p.Namespace || v.Fix != r.fixes[i]
		}
	}
	return RecordedVerdict{}, true
}

// IsRecord reports whether data, a Custom Block's under FactsPEN, is
// meant as stored facts, a JSON object: the binary block of another tool
// under the same PEN is not.
func IsRecord(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{"))
}

// ErrNotRecord is data that is not stored facts at all.
var ErrNotRecord = errors.New("not nsdump facts")

// Rejudge judges stored facts (what Result.Record wrote, padded with zero
// bytes or not) again. Facts it cannot read give an error, never a panic:
// they come from a file, and a file may be anything.
func Rejudge(data []byte) (res *Rejudged, err error) {
	rec, warning, err := readRecord(data)
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
	rec.Facts.budget = workPerByte * len(data)
	probes := rec.Facts.judgeAll()
	if rec.Facts.overBudget() {
		return nil, fmt.Errorf("the stored facts could not be judged: their rules take more than %d comparisons (%d a byte), far more than a trace's", rec.Facts.budget, workPerByte)
	}
	rj := &Rejudged{Version: rec.Version, Recorded: rec.Verdicts, Probes: probes, Warning: warning}
	for i := range rj.Probes {
		rj.fixes = append(rj.fixes, rj.Probes[i].Fix)
	}
	if bad := rec.Facts.unpasteable(); bad != "" {
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
func (f *Facts) judgeAll() []Probe {
	out := make([]Probe, 0, len(f.Probes))
	for _, pf := range f.Probes {
		if f.overBudget() {
			break // the caller refuses the facts
		}
		p := Probe{Direction: pf.Direction, Kind: pf.Kind, Family: pf.Family}
		p.take(Judge(f, pf))
		switch pf.Kind {
		case decode.KindTCPConn:
			p.Listener, p.Delivered = pf.Socket.Listener, pf.Socket.Delivered
		case KindMTU:
			p.Sent, p.Received = pf.Socket.Count, pf.Socket.Received
		default:
			p.Sent, p.Received = pf.Socket.Sent, pf.Socket.Received
		}
		out = append(out, p)
	}
	return out
}

// readRecord parses and checks stored facts.
func readRecord(data []byte) (*Record, string, error) {
	data = bytes.TrimRight(data, "\x00")
	if len(data) > maxRecord {
		return nil, "", fmt.Errorf("stored facts of %d bytes, more than the %d nsdump reads", len(data), maxRecord)
	}
	var head struct {
		Version *json.RawMessage `json:"nsdump_facts"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Version == nil {
		return nil, "", fmt.Errorf("%w: %s", ErrNotRecord, jsonError(err, "no \"nsdump_facts\" version"))
	}
	var v int
	if err := json.Unmarshal(*head.Version, &v); err != nil || v < 1 {
		return nil, "", fmt.Errorf("stored facts of version %s: not a version nsdump wrote", clip(string(*head.Version)))
	}
	warning := ""
	if v > FactsVersion {
		warning = fmt.Sprintf("the facts were stored by a later nsdump (version %d; this one reads up to %d): judged as far as this one understands them", v, FactsVersion)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, "", fmt.Errorf("stored facts (version %d) unreadable: %s", v, jsonError(err, ""))
	}
	if rec.Facts == nil {
		return nil, "", fmt.Errorf("stored facts (version %d) hold no \"facts\"", v)
	}
	if len(rec.Verdicts) > maxProbes {
		return nil, "", fmt.Errorf("stored facts (version %d) unusable: %d verdicts, more than %d", v, len(rec.Verdicts), maxProbes)
	}
	if err := rec.Facts.check(); err != nil {
		return nil, "", fmt.Errorf("stored facts (version %d) unusable: %w", v, err)
	}
	return &rec, warning, nil
}

// jsonError says what is wrong with a JSON document in a few words.
func jsonError(err error, otherwise string) string {
	if err == nil {
		return otherwise
	}
	return clip(err.Error())
}

// clip keeps a message from a hostile file to one short line.
func clip(s string) string {
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// workPerByte bounds the work of judging stored facts by their size:
// rules walked and values compared, per byte of the facts. Every recorded
// trace's facts take less than a quarter (TestJudgeWorkLinear); a file shaped
// to make each probe match every rule again runs out instead.
const workPerByte = 1

// maxRecord bounds stored facts: a trace's are a few hundred KB.
const maxRecord = 16 << 20

// Bounds on what stored facts may hold, far above what a trace of up to
// MaxHops namespaces gathers, so that judging hostile facts takes no
// longer than judging a real trace's.
const (
	maxProbes     = 64
	maxStates     = 64   // namespaces, and again namespaces read after the probes
	maxLinks      = 4096 // in all the namespaces
	maxAddrs      = 16384
	maxEntries    = 4096 // neighbour and FDB entries of one namespace
	maxLookups    = 4096
	maxRules      = 4096
	maxConds      = 64 // of a rule
	maxValues     = 1024
	maxSightings  = 4096 // of one probe, and kernel drops
	maxICMPErrors = 64
)

// check refuses facts that would break or stall the judgement: missing
// namespaces, longer paths than a trace follows, more of anything than a
// trace gathers.
func (f *Facts) check() error {
	if len(f.Probes) > maxProbes {
		return fmt.Errorf("%d probes, more than %d", len(f.Probes), maxProbes)
	}
	links, addrs := 0, 0
	for _, states := range [][]*topology.NamespaceState{f.Namespaces, f.After} {
		if len(states) > maxStates {
			return fmt.Errorf("%d namespaces, more than %d", len(states), maxStates)
		}
		for _, st := range states {
			if st == nil {
				return errors.New("a namespace is null")
			}
			if len(st.Neighbors) > maxEntries || len(st.FDB) > maxEntries {
				return fmt.Errorf("namespace %q: more than %d neighbour or FDB entries", clip(st.Name), maxEntries)
			}
			links += len(st.Links)
			for _, l := range st.Links {
				addrs += len(l.Addresses)
			}
		}
	}
	if links > maxLinks || addrs > maxAddrs {
		return fmt.Errorf("%d links and %d addresses, more than %d and %d", links, addrs, maxLinks, maxAddrs)
	}
	if len(f.Counters) > maxEntries || len(f.Resolutions) > maxSightings {
		return fmt.Errorf("%d counters and %d neighbour resolutions, more than %d and %d", len(f.Counters), len(f.Resolutions), maxEntries, maxSightings)
	}
	if len(f.Lookups) > maxLookups || len(f.Rules) > maxRules {
		return fmt.Errorf("%d route lookups and %d rules, more than %d and %d", len(f.Lookups), len(f.Rules), maxLookups, maxRules)
	}
	for _, r := range f.Rules {
		if len(r.Conds) > maxConds {
			return fmt.Errorf("a rule of %d matches, more than %d", len(r.Conds), maxConds)
		}
		for _, c := range r.Conds {
			if len(c.Values) > maxValues {
				return fmt.Errorf("a match of %d values, more than %d", len(c.Values), maxValues)
			}
		}
	}
	for _, p := range f.Probes {
		if len(p.Path) > MaxHops || len(p.Back) > MaxHops {
			return fmt.Errorf("probe %s %s: a path of more than %d namespaces", clip(p.Direction), clip(p.Kind), MaxHops)
		}
		if len(p.RequestSeen) > maxSightings || len(p.AnswerSeen) > maxSightings || len(p.Drops) > maxSightings || len(p.Errors) > maxICMPErrors {
			return fmt.Errorf("probe %s %s: more sightings, kernel drops or ICMP errors than a trace records", clip(p.Direction), clip(p.Kind))
		}
		if len(p.RouteGets) > maxLookups {
			return fmt.Errorf("probe %s %s: more than %d route lookups", clip(p.Direction), clip(p.Kind), maxLookups)
		}
		for _, e := range p.Errors {
			if len(e.Seen) > maxSightings {
				return fmt.Errorf("probe %s %s: an ICMP error seen more than %d times", clip(p.Direction), clip(p.Kind), maxSightings)
			}
		}
	}
	return nil
}
