package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/trace"
	"github.com/nsdump/nsdump/trace/facts"
)

// rejudged is a file's stored facts judged again by this nsdump
// (`read --json`'s "rejudged").
type rejudged struct {
	File    string          `json:"file"`
	Version int             `json:"facts_version"`
	Probes  []rejudgedProbe `json:"probes"`
	port    uint16
}

// rejudgedProbe is a probe's verdict judged again, with the one the
// trace that wrote the file gave, and whether they differ.
type rejudgedProbe struct {
	trace.Probe
	Differs  bool                   `json:"differs"`
	Recorded *facts.RecordedVerdict `json:"recorded"`
}

// rejudge judges again the facts stored in a file's Custom Blocks; what
// keeps it from doing so is a warning, one line each.
func rejudge(file string, blocks []capture.CustomBlock) (out []rejudged, warnings []string) {
	for _, b := range blocks {
		if b.PEN != facts.FactsPEN {
			continue
		}
		if b.Data == nil {
			warnings = append(warnings, fmt.Sprintf("%s: stored facts of %d bytes not judged again: more than the %d bytes of custom blocks read keeps", file, b.Size, capture.MaxCustom))
			continue
		}
		if !facts.IsRecord(b.Data) {
			continue // another tool's block under the same placeholder PEN
		}
		rj, err := trace.Rejudge(b.Data)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s: stored facts not judged again: %v", file, err))
			continue
		}
		if rj.Warning != "" {
			warnings = append(warnings, file+": "+rj.Warning)
		}
		if rj.Withheld != "" {
			warnings = append(warnings, file+": "+rj.Withheld)
		}
		r := rejudged{File: file, Version: rj.Version, Probes: []rejudgedProbe{}, port: rj.Port}
		for i, p := range rj.Probes {
			rec, differs := rj.Differs(i)
			rp := rejudgedProbe{Probe: p, Differs: differs}
			if rec.Direction != "" {
				rp.Recorded = &rec
			}
			r.Probes = append(r.Probes, rp)
		}
		out = append(out, r)
	}
	return out, warnings
}

// printRejudged shows each file's verdicts judged again from its stored
// facts, as trace prints verdicts, and says where one is not the verdict
// recorded.
func printRejudged(w io.Writer, all []rejudged) {
	plain := func(_, s string) string { return s }
	for _, r := range all {
		fmt.Fprintf(w, "\njudged again from the facts stored in %s (facts version %d):\n", decode.Printable(r.File), r.Version)
		differ, failed := 0, false
		var probes []trace.Probe
		for _, p := range r.Probes {
			probes = append(probes, p.Probe)
		}
		width := directionWidth(probes)
		for _, p := range r.Probes {
			printProbe(w, p.Probe, r.port, plain, false, width)
			failed = failed || !p.OK
			if !p.Differs {
				continue
			}
			differ++
			if p.Recorded == nil {
				fmt.Fprintf(w, "    DIFFERS: no verdict was recorded for this probe\n")
				continue
			}
			was := "ok"
			if !p.Recorded.OK {
				was = string(p.Recorded.Cause) + " in " + p.Recorded.Namespace
			}
			if p.Recorded.Fix != "" {
				// Quoted: the file's text, not a command to paste.
				was += "; fix recorded: " + strconv.Quote(p.Recorded.Fix)
			}
			fmt.Fprintf(w, "    DIFFERS from the verdict recorded: %s\n", decode.Printable(was))
		}
		verdict := "all probes ok"
		if failed {
			verdict = "some probes failed"
		}
		switch {
		case differ == 0:
			fmt.Fprintf(w, "\n%s, as recorded\n", verdict)
		default:
			fmt.Fprintf(w, "\n%s; %d of %d verdicts differ from the ones recorded\n", verdict, differ, len(r.Probes))
		}
	}
}
