package main

import (
	"encoding/json"
	"strings"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/trace/facts"
)

// A `trace -w` file holds, beside the probes' packets, kernel drops of
// trace's own making: the duplicate of an echo reply its raw and datagram
// sockets both see, what a socket it closed still held. Its facts (stored
// after the packets) record which: each probe's drops with "stray". read
// marks those drops as trace's own and counts them apart, so that a
// healthy trace reads back healthy.

// traceStamp starts the section comment of a trace -w file.
const traceStamp = "nsdump trace\n"

// strayKey is one drop as the file gives it: the probe its packet is of
// (its comment's verdict line, "A->B mtu"), where, and the kernel's word.
type strayKey struct {
	probe, ns, reason, location string
}

// maxStrayKeys bounds the drops tallied by kind: a hostile file could
// make every drop a kind of its own.
const maxStrayKeys = 4096

// strays decides, from the facts of the trace -w files read, which drops
// are trace's own, and tallies every drop to count them at the end.
type strays struct {
	recorded map[strayKey]bool // what the facts say of a probe's drops
	traced   bool              // a trace -w file was read
	tally    map[strayKey]int
	other    int // drops past maxStrayKeys: counted as the path's
}

// learn reads the stray marks of the facts in a trace -w file's blocks.
// Facts that do not parse mark nothing: their drops stay the path's (the
// rejudging says what is wrong with them).
func (s *strays) learn(blocks []capture.CustomBlock) {
	for _, b := range blocks {
		if b.PEN != facts.FactsPEN || b.Data == nil || !facts.IsRecord(b.Data) {
			continue
		}
		var rec struct {
			Facts struct {
				Probes []struct {
					Direction string                 `json:"direction"`
					Kind      string                 `json:"kind"`
					Drops     []facts.KernelDropSeen `json:"kernel_drops"`
				} `json:"probes"`
			} `json:"facts"`
		}
		if json.Unmarshal(trimZeros(b.Data), &rec) != nil {
			continue
		}
		if s.recorded == nil {
			s.recorded = map[strayKey]bool{}
		}
		for _, p := range rec.Facts.Probes {
			for _, kd := range p.Drops {
				k := strayKey{p.Direction + " " + p.Kind, kd.Namespace, kd.Reason, kd.Location}
				// One drop of a kind that is the path's makes the kind the
				// path's: never hide a fault behind a routine twin.
				s.recorded[k] = kd.Stray && (s.recorded[k] || !seenKey(s.recorded, k))
			}
		}
	}
}

func seenKey(m map[strayKey]bool, k strayKey) bool { _, ok := m[k]; return ok }

func trimZeros(b []byte) []byte { return []byte(strings.TrimRight(string(b), "\x00")) }

// keyOf is a drop sighting's key: its point NS/drops, the kernel's word
// "REASON at LOCATION (IFACE)", its probe.
func keyOf(point string, drop capture.Drop, probe string) strayKey {
	ns, _ := capture.DropsNamespace(point)
	return strayKey{probe, ns, drop.Reason, drop.Location}
}

// stray reports whether a drop is trace's own: as the facts record it for
// a probe's packet; for a packet of no probe in a trace -w file, by
// trace's own rule, a QUEUE_PURGE (a socket trace closed purging what it
// held; the facts keep only the probes' drops).
func (s *strays) stray(k strayKey) bool {
	if k.probe == "" {
		return s.traced && k.reason == "QUEUE_PURGE"
	}
	return s.recorded[k]
}

// dropped tallies one drop (decode.Tracker.Dropped).
func (s *strays) dropped(point string, drop capture.Drop, probe string) {
	k := keyOf(point, drop, probe)
	if s.tally == nil {
		s.tally = map[strayKey]int{}
	}
	if _, ok := s.tally[k]; !ok && len(s.tally) >= maxStrayKeys {
		s.other++
		return
	}
	s.tally[k]++
}

// tallies are the drops tallied, by probe kind and whether trace made
// them, for the expectations to count.
func (s *strays) tallies() []decode.DropTally {
	var out []decode.DropTally
	if s.other > 0 {
		out = append(out, decode.DropTally{Probe: decode.ProbeNone, N: s.other})
	}
	for k, n := range s.tally {
		probe := decode.ProbeNone
		if k.probe != "" {
			probe = decode.ProbeKind(k.probe)
		}
		out = append(out, decode.DropTally{Probe: probe, Stray: s.stray(k), N: n})
	}
	return out
}

// count is how many of the drops tallied are trace's own.
func (s *strays) count() int {
	n := 0
	for k, c := range s.tally {
		if s.stray(k) {
			n += c
		}
	}
	return n
}

// mark marks the exchange's drop sightings that are trace's own.
func (s *strays) mark(ex *decode.Exchange) {
	for i := range ex.Seen {
		sg := &ex.Seen[i]
		if !sg.Drop.IsZero() {
			sg.Stray = s.stray(keyOf(sg.Point, sg.Drop, sg.Probe))
		}
	}
}
