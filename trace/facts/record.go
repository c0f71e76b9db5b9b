package facts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nsdump/nsdump/topology/nsstate"
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
	Direction string    `json:"direction"`
	Kind      ProbeKind `json:"kind"`
	Family    int       `json:"family"`
	OK        bool      `json:"ok"`
	Cause     Cause     `json:"cause"`
	Namespace string    `json:"namespace"`
	Fix       string    `json:"fix"`
	Detail    string    `json:"detail,omitempty"`
}

// IsRecord reports whether data, a Custom Block's under FactsPEN, is
// meant as stored facts, a JSON object: the binary block of another tool
// under the same PEN is not.
func IsRecord(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{"))
}

// ErrNotRecord is data that is not stored facts at all.
var ErrNotRecord = errors.New("not nsdump facts")

// ReadRecord parses and checks stored facts.
func ReadRecord(data []byte) (*Record, string, error) {
	data = bytes.TrimRight(data, "\x00")
	if len(data) > MaxRecord {
		return nil, "", fmt.Errorf("stored facts of %d bytes, more than the %d nsdump reads", len(data), MaxRecord)
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

// MaxRecord bounds stored facts: a trace's are a few hundred KB.
const MaxRecord = 16 << 20

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
	for _, states := range [][]*nsstate.NamespaceState{f.Namespaces, f.After} {
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
	if err := f.checkNetfilter(); err != nil {
		return err
	}
	if len(f.Gaps) > maxEntries {
		return fmt.Errorf("%d gaps, more than %d", len(f.Gaps), maxEntries)
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
	if err := f.Kernel.check(); err != nil {
		return err
	}
	for _, p := range f.Probes {
		if len(p.Path) > MaxHops || len(p.Back) > MaxHops {
			return fmt.Errorf("probe %s %s: a path of more than %d namespaces", clip(p.Direction), clip(string(p.Kind)), MaxHops)
		}
		if len(p.RequestSeen) > maxSightings || len(p.AnswerSeen) > maxSightings || len(p.Drops) > maxSightings || len(p.Errors) > maxICMPErrors || len(p.Revisits) > maxSightings {
			return fmt.Errorf("probe %s %s: more sightings, kernel drops or ICMP errors than a trace records", clip(p.Direction), clip(string(p.Kind)))
		}
		if len(p.RouteGets) > maxLookups {
			return fmt.Errorf("probe %s %s: more than %d route lookups", clip(p.Direction), clip(string(p.Kind)), maxLookups)
		}
		for _, e := range p.Errors {
			if len(e.Seen) > maxSightings {
				return fmt.Errorf("probe %s %s: an ICMP error seen more than %d times", clip(p.Direction), clip(string(p.Kind)), maxSightings)
			}
		}
	}
	return nil
}
