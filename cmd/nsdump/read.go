package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
)

// readOpts are read's flags.
type readOpts struct {
	asJSON, packets bool
	expect          []string
	expectFile      string
	idle            time.Duration
	print           *printFlags
	maxOpen         int
}

func runRead(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "read")
	var o readOpts
	fs.BoolVar(&o.asJSON, "json", false, "print the exchange report as JSON")
	fs.BoolVar(&o.packets, "packets", false, "print one line per packet matching the filter before the report")
	fs.StringArrayVar(&o.expect, "expect", nil, "an expectation over the report, e.g. 'icmp-echo:answered>=3' (repeatable; exit 1 if one fails)")
	fs.StringVar(&o.expectFile, "expect-file", "", "a file of expectations, one a line (# comments)")
	fs.DurationVar(&o.idle, "idle", decode.DefaultIdle, "finish an exchange after this much capture time without a packet")
	fs.IntVar(&o.maxOpen, "max-open", decode.DefaultMaxOpen, "exchanges open at once before the least recently active is finished early (memory: about 700 bytes each)")
	o.print = addPrintFlags(fs)
	refuse := addTcpdumpRefusals(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := refuse(); err != nil {
		return err
	}
	if o.maxOpen <= 0 {
		return fmt.Errorf("--max-open %d: want a positive count", o.maxOpen)
	}
	if !o.packets {
		for _, f := range []string{"link-header", "hex", "ascii", "verbose", "time"} {
			if fs.Changed(f) {
				return fmt.Errorf("-%s prints packets: add --packets", fs.Lookup(f).Shorthand)
			}
		}
	}
	if fs.NArg() == 0 {
		return errors.New("read needs at least one capture file (- for standard input)")
	}
	if o.idle <= 0 {
		return fmt.Errorf("--idle %s: want a positive duration", o.idle)
	}
	expects, err := loadExpectations(o)
	if err != nil {
		return err
	}
	files, expr := splitFilter(fs.Args())
	filter, err := capture.NewFilterSet(strings.Join(expr, " "))
	if err != nil {
		return err
	}
	// The live heap is the open exchanges, up to about 25 MiB in a flood
	// (--max-open's 20,000 and those waiting out the linger), and reading
	// makes little garbage besides: collect only when the heap nears 40
	// MiB. Collecting each time it tripled scanned a flood's exchanges
	// twice, with write barriers on all along: a sixth of the instructions
	// of reading 200,000 echo requests, memory no lower for it.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(40 << 20))
	out := bufio.NewWriterSize(e.stdout, 1<<16)
	r := &reading{out: out, expects: expects, summary: decode.Summary{}}
	err = r.run(ctx, e, o, files, filter)
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("write standard output: %w", ferr)
	}
	return err
}

func loadExpectations(o readOpts) ([]*decode.Expectation, error) {
	var list []*decode.Expectation
	for _, s := range o.expect {
		ex, err := decode.ParseExpectation(s)
		if err != nil {
			return nil, err
		}
		list = append(list, ex)
	}
	if o.expectFile == "" {
		return list, nil
	}
	f, err := os.Open(o.expectFile)
	if err != nil {
		return nil, fmt.Errorf("--expect-file: %w", err)
	}
	defer f.Close()
	more, err := decode.ReadExpectations(f, o.expectFile)
	if err != nil {
		return nil, err
	}
	if len(more) == 0 {
		return nil, fmt.Errorf("--expect-file %s holds no expectation", o.expectFile)
	}
	return append(list, more...), nil
}

// reading is one `nsdump read`: the exchanges as they finish go to the
// report, the summary and the expectations; warnings gather for the end.
type reading struct {
	out     *bufio.Writer
	expects []*decode.Expectation
	summary decode.Summary
	// runN is how many exchanges of kind and status runKey were reported
	// last, not yet in summary: a flood's million are one run.
	runN     int
	runKey   decode.SummaryKey
	text     summary
	json     *jsonStream
	warnings []string
	recorded []recorded
	rejudged []rejudged
	strays   strays
	// While a trace -w file is read, its exchanges wait for its facts
	// (stored after its packets) to say which drops are trace's own.
	t      *decode.Tracker
	before int // the file's first section comment in t.Comments
	held   []*decode.Exchange
	spill  bool // held more than maxHeld: the rest went unmarked
}

// maxHeld bounds the exchanges of a trace -w file held for its facts: a
// trace makes a few dozen; a file that only claims to be one must not
// cost memory without bound.
const maxHeld = 20000

// inTrace reports whether the file being read is a trace -w file.
func (r *reading) inTrace() bool {
	if r.t == nil {
		return false
	}
	for _, c := range r.t.Comments[min(r.before, len(r.t.Comments)):] {
		if strings.HasPrefix(c, traceStamp) {
			return true
		}
	}
	return false
}

func (r *reading) emit(ex *decode.Exchange) {
	if r.inTrace() {
		if len(r.held) < maxHeld {
			r.held = append(r.held, ex.Clone()) // the tracker reuses ex
			return
		}
		r.spill = true
	}
	r.report(ex)
}

// release reports the exchanges held for a file's facts, now read.
func (r *reading) release() {
	for _, ex := range r.held {
		r.report(ex)
	}
	r.held = nil
}

// count adds ex to the summary, a run of one kind and status at once:
// the map, keyed by two strings, cost about 250 instructions an
// exchange, counted one at a time.
func (r *reading) count(ex *decode.Exchange) {
	k := decode.SummaryKey{Kind: ex.Kind, Status: ex.Status}
	if r.runN > 0 && k != r.runKey {
		r.summary[r.runKey] += r.runN
		r.runN = 0
	}
	r.runKey = k
	r.runN++
}

// counted adds the last run to the summary.
func (r *reading) counted() decode.Summary {
	if r.runN > 0 {
		r.summary[r.runKey] += r.runN
		r.runN = 0
	}
	return r.summary
}

func (r *reading) report(ex *decode.Exchange) {
	r.strays.mark(ex)
	for _, e := range r.expects {
		e.Count(ex)
	}
	if r.json != nil {
		r.count(ex) // the text report counts its own (r.text)
		r.json.add(ex)
	} else {
		r.text.add(ex)
	}
}

func (r *reading) run(ctx context.Context, e env, o readOpts, files []string, filter *capture.FilterSet) error {
	r.start(o)
	readErr := r.readFiles(ctx, files, filter, r.packetPrinter(o))
	return r.finish(e, o, readErr)
}

// start makes the tracker and, for --json, the stream the exchanges go to.
func (r *reading) start(o readOpts) {
	t := decode.NewTracker(nil)
	t.Emit, t.Idle, t.MaxOpen, t.Reuse = r.emit, o.idle, o.maxOpen, true
	t.Dropped = r.strays.dropped
	r.t = t
	if o.asJSON {
		r.json = &jsonStream{w: r.out, chunk: jsonChunk}
		if o.packets {
			r.json.chunk = 0
		}
		r.json.open()
		if r.json.chunk != 0 {
			r.json.startFormatter()
		}
	}
}

// packetPrinter prints each packet's line for --packets, or is nil.
func (r *reading) packetPrinter(o readOpts) func(*decode.Packet, string, []byte) {
	if !o.packets {
		return nil
	}
	var line []byte
	print := o.print.printer()
	return func(p *decode.Packet, point string, data []byte) {
		line = print(line[:0], p, point, data)
		line = append(line, '\n')
		r.out.Write(line)
	}
}

// readFiles reads the files in turn into the tracker, re-judging each
// trace file's facts as it ends, and says why it stopped early, if it
// did: a truncated file is a warning and the next one is read.
func (r *reading) readFiles(ctx context.Context, files []string, filter *capture.FilterSet, each func(*decode.Packet, string, []byte)) error {
	t := r.t
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		var cut *decode.TruncatedError
		before, blocks := len(t.Comments), len(t.Custom)
		r.before = before
		err := readOne(ctx, name, t, filter, each)
		for _, c := range t.Comments[before:] {
			if c != captureStamp { // nsdump capture's plain stamp says nothing
				r.recorded = append(r.recorded, recorded{File: name, Comment: c})
			}
		}
		if r.inTrace() {
			// Only a trace file's facts: its exchanges were held for them.
			r.strays.traced = true
			r.strays.learn(t.Custom[blocks:])
		}
		r.before = len(t.Comments) // the file's exchanges still open are reported as they finish
		r.release()
		rj, warnings := rejudge(name, t.Custom[blocks:])
		r.rejudged, r.warnings = append(r.rejudged, rj...), append(r.warnings, warnings...)
		t.Custom = t.Custom[:blocks] // judged: the bytes may go
		if errors.As(err, &cut) {
			r.warnings = append(r.warnings, fmt.Sprintf("%s: %v; every packet before it is reported", name, cut))
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// finish reports what is still open, settles the expectations and
// writes the summary, the recorded comments, the re-judged verdicts and
// the warnings.
func (r *reading) finish(e env, o readOpts, readErr error) error {
	t := r.t
	t.Flush()
	r.release()
	if r.spill {
		r.warnings = append(r.warnings, fmt.Sprintf("a trace -w file made more than %d exchanges: those past them were reported before its facts were read, without marking trace's own drops", maxHeld))
	}
	if n := t.Evicted(); n > 0 {
		r.warnings = append(r.warnings, fmt.Sprintf("%s finished early: more than %d were open at once (an answer after that counts apart; --max-open raises the limit)", plural(n, "exchange"), o.maxOpen))
	}
	var failed []string
	stray, tallies := r.strays.count(), r.strays.tallies()
	for _, ex := range r.expects {
		if !ex.Settle(t.Packets(), tallies) {
			failed = append(failed, ex.Failure())
		}
	}
	if r.json != nil {
		r.json.close(t.Packets(), t.Drops(), stray, r.counted(), r.expects, r.warnings, r.recorded, r.rejudged, readErr)
	} else {
		if readErr == nil {
			r.text.print(r.out, t.Packets(), t.Drops(), stray)
			printRecorded(r.out, r.recorded)
			printRejudged(r.out, r.rejudged)
		}
		r.out.Flush()
		for _, w := range r.warnings {
			fmt.Fprintln(e.stderr, "nsdump: warning: "+w)
		}
	}
	switch {
	case readErr != nil:
		return readErr
	case len(failed) > 0:
		return failure{errors.New(strings.Join(failed, "\nnsdump: "))}
	}
	return nil
}

// jsonStream writes {"exchanges": [...], "packets": N, "summary": {...},
// ...} as exchanges finish, so that memory does not grow with the capture.
// The document is always whole: warnings and an error go inside it.
// Exchanges gather in buf and go to w a chunk at a time: bufio writes a
// chunk larger than its buffer straight through, so a flood's report is
// not copied once more.
type jsonStream struct {
	w     *bufio.Writer
	n     int
	buf   []byte
	chunk int // 0 when packet lines go to w between exchanges
	// async, when chunk is not 0, writes the exchanges on a goroutine of
	// its own (startFormatter).
	async *jsonFormatter
}

// jsonChunk is how much of the report jsonStream gathers before writing.
const jsonChunk = 1 << 17

func (j *jsonStream) open() { j.w.WriteString("{\n  \"exchanges\": [") }

func (j *jsonStream) add(ex *decode.Exchange) {
	if j.async != nil {
		j.async.add(ex)
		return
	}
	j.append(ex)
}

// append writes ex to the report.
func (j *jsonStream) append(ex *decode.Exchange) {
	if j.n > 0 {
		j.buf = append(j.buf, ',')
	}
	j.buf = append(j.buf, "\n    "...)
	j.n++
	var ok bool
	if j.buf, ok = ex.AppendJSON(j.buf, "    ", "  "); !ok {
		j.buf = append(j.buf, marshalExchange(ex)...)
	}
	if len(j.buf) >= j.chunk {
		j.flush()
	}
}

func (j *jsonStream) flush() {
	j.w.Write(j.buf)
	j.buf = j.buf[:0]
}

// marshalExchange is ex as encoding/json writes it, for what AppendJSON
// leaves to it.
func marshalExchange(ex *decode.Exchange) []byte {
	b, err := json.MarshalIndent(ex, "    ", "  ")
	if err != nil {
		clampTimes(ex)
		b, err = json.MarshalIndent(ex, "    ", "  ")
	}
	if err != nil {
		b, _ = json.Marshal(map[string]string{"kind": string(ex.Kind), "error": err.Error()})
	}
	return b
}

func (j *jsonStream) close(packets, drops, stray int, sum decode.Summary, expects []*decode.Expectation, warnings []string, rec []recorded, rj []rejudged, readErr error) {
	if j.async != nil {
		j.async.wait()
		j.async = nil
	}
	j.flush()
	if j.n > 0 {
		j.w.WriteString("\n  ")
	}
	fmt.Fprintf(j.w, "],\n  \"packets\": %d,\n  \"drops\": %d,\n  \"stray_drops\": %d", packets, drops, stray)
	field := func(name string, v any) {
		b, _ := json.MarshalIndent(v, "  ", "  ")
		fmt.Fprintf(j.w, ",\n  %q: %s", name, b)
	}
	field("summary", sum)
	if len(expects) > 0 {
		field("expectations", expects)
	}
	if len(rec) > 0 {
		field("recorded", rec)
	}
	if len(rj) > 0 {
		field("rejudged", rj)
	}
	if len(warnings) > 0 {
		field("warnings", warnings)
	}
	if readErr != nil {
		field("error", readErr.Error())
	}
	j.w.WriteString("\n}\n")
}

// JSON (RFC 3339) has no year before 0 or after 9999: such times, from a
// file's hostile or broken timestamps, are clamped to the nearest end.
var (
	firstTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	lastTime  = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

func clampTime(t *time.Time) {
	switch {
	case t.Before(firstTime):
		*t = firstTime
	case t.After(lastTime):
		*t = lastTime
	}
}

func clampTimes(ex *decode.Exchange) {
	clampTime(&ex.Start)
	for i := range ex.Seen {
		clampTime(&ex.Seen[i].Time)
	}
}

// splitFilter separates file names from a trailing filter expression: the
// files come first and exist (or are "-").
func splitFilter(args []string) (files, filter []string) {
	for i, a := range args {
		if a == "-" {
			continue
		}
		if _, err := os.Stat(a); err != nil && i > 0 {
			return args[:i], args[i:]
		}
	}
	return args, nil
}

func readOne(ctx context.Context, name string, t *decode.Tracker, filter *capture.FilterSet, each func(*decode.Packet, string, []byte)) error {
	r, closeInput, err := openInput(ctx, name)
	if err != nil {
		return err
	}
	defer closeInput()
	if err := decode.ReadFileFrames(r, t, filter, each); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("read %s: %w", name, ctx.Err())
		}
		var cut *decode.TruncatedError
		if errors.As(err, &cut) {
			return err
		}
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// recorded is a section comment of a file read: what the tool that wrote
// it said (`nsdump trace -w` writes its verdicts there).
type recorded struct {
	File    string `json:"file"`
	Comment string `json:"comment"`
}

// printRecorded shows the files' own comments after the report, each line
// escaped: a trace -w file reads back with the verdicts it was written with.
func printRecorded(w io.Writer, rec []recorded) {
	for _, r := range rec {
		fmt.Fprintf(w, "\nrecorded in %s:\n", decode.Printable(r.File))
		for _, line := range strings.Split(strings.TrimRight(r.Comment, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", decode.Printable(line))
		}
	}
}
