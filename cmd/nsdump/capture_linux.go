package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
)

func runCapture(ctx context.Context, e env, args []string) error {
	o, err := parseCapture(e, args)
	if err != nil {
		return err
	}
	if err := topology.CheckPrivileges(); err != nil {
		return err
	}
	lessGarbage()
	ts := topology.NewTargets()
	held, release, err := holdCaptureTargets(ts, o.targets)
	if err != nil {
		return err
	}
	defer release()
	ctx, stopWatch := watchHolders(ctx, held)
	defer stopWatch()
	targets := o.targets
	if o.all {
		more, releaseAll, err := everyInterface(e, ts)
		if err != nil {
			return err
		}
		defer releaseAll()
		targets = append(more, targets...)
	}
	// What finding the targets took (link dumps, the namespace list of
	// --all) is garbage now: give its pages back before the capture runs
	// for hours. Not once the sockets are open: their rings fill meanwhile.
	debug.FreeOSMemory()
	return o.run(ctx, e, ts, targets)
}

// captureOpts are capture's flags and targets, checked.
type captureOpts struct {
	write                string
	count, snap, ringKiB int
	drops, all           bool
	as                   *account
	print                *printFlags
	targets              []capture.Target
	filter               *capture.Filter
}

// parseCapture reads and checks capture's flags, targets and filter,
// before any system call.
func parseCapture(e env, args []string) (*captureOpts, error) {
	fs := newFlags(e, "capture")
	write := fs.StringP("write", "w", "", "write pcapng (pcap if the name ends in .pcap) to FILE, - for stdout")
	count := fs.IntP("count", "c", 0, "stop after N packets")
	snap := fs.IntP("snaplen", "s", capture.MaxSnapLen, "bytes kept of each packet; 0 keeps all (262144, as tcpdump)")
	withDrops := fs.Bool("drops", false, "also record the packets the kernel drops in these namespaces, with its reason, on NS/drops")
	dropTo := fs.StringP("relinquish-privileges", "Z", "", "once the sockets and the output file are open, run as this user (as tcpdump -Z)")
	ringKiB := fs.IntP("buffer-size", "B", 0, "ring buffer of each capture point in KiB, as tcpdump -B (default: 2048, less when there are many points)")
	all := fs.Bool("all", false, "every interface of every network namespace on the host, loopbacks excepted (name NS/lo to add one)")
	pf := addPrintFlags(fs)
	refuse := addTcpdumpRefusals(fs)
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := refuse(); err != nil {
		return nil, err
	}
	if *count < 0 {
		return nil, fmt.Errorf("-c %d: the packet count must be 0 (no limit) or more", *count)
	}
	if *snap < 0 || *snap > capture.MaxSnapLen {
		return nil, fmt.Errorf("-s %d: the snap length must be 0 (whole packets) or 1-%d", *snap, capture.MaxSnapLen)
	}
	if *snap == 0 {
		*snap = capture.MaxSnapLen
	}
	var as *account
	if *dropTo != "" {
		var err error
		if as, err = lookupAccount(*dropTo); err != nil {
			return nil, err
		}
	}
	var targets []capture.Target
	var filter []string
	var err error
	if *all {
		targets, filter, err = extraTargets(fs.Args())
	} else {
		targets, filter, err = captureTargets(fs.Args())
	}
	if err != nil {
		return nil, err
	}
	if *ringKiB != 0 && (*ringKiB < capture.MinRing>>10 || *ringKiB > 1<<20) {
		return nil, fmt.Errorf("-B must be from %d to %d KiB", capture.MinRing>>10, 1<<20)
	}
	flt, err := compileCaptureFilter(e, filter)
	if err != nil {
		return nil, err
	}
	return &captureOpts{write: *write, count: *count, snap: *snap, ringKiB: *ringKiB, drops: *withDrops, all: *all, as: as, print: pf, targets: targets, filter: flt}, nil
}

// run captures on the targets until ctx ends or o.count packets came.
func (o *captureOpts) run(ctx context.Context, e env, ts *topology.Targets, targets []capture.Target) error {
	s, err := capture.Open(targets, &capture.Config{SnapLen: o.snap, Filter: o.filter, RingSize: o.ringKiB << 10, SkipVanished: o.all, PollTimeout: 50 * time.Millisecond, Targets: ts})
	if err != nil {
		return err
	}
	for _, err := range s.Skipped() {
		fmt.Fprintf(e.stderr, "nsdump: skipping: %v\n", err)
	}
	skippedAtOpen := len(s.Skipped())
	points := s.Points()
	var dr *dropRecorder
	if o.drops {
		dr, points = openDrops(e.stderr, ts, targets, points)
		defer dr.release()
	}
	if o.write != "" && strings.HasSuffix(o.write, ".pcap") && len(points) > 1 {
		s.Close()
		return fmt.Errorf("%d capture points do not fit one .pcap file: name the file .pcapng", len(points))
	}
	sink, flush, closeSink, err := openSink(ctx, e, o.write, points, o.print.printer(), o.as.uidOr(-1))
	if err != nil {
		s.Close()
		return err
	}
	if o.as != nil {
		if err := o.as.become(); err != nil {
			s.Close()
			closeSink()
			return err
		}
	}
	fmt.Fprintf(e.stderr, "nsdump: capturing on %s\n", pointNames(points))

	dr.start(ctx, sink)
	st, runErr := s.Run(ctx, o.count, dr.frames(sink), dr.guard(flush))
	dropErr := dr.stop(e.stderr)
	closeErr := closeSink()
	for _, err := range s.Skipped()[skippedAtOpen:] {
		fmt.Fprintf(e.stderr, "nsdump: went away during the capture: %v\n", err)
	}
	fmt.Fprintf(e.stderr, "%s captured, %d received by filter, %d dropped by kernel\n", plural(st.Captured, "packet"), st.Received, st.Dropped)
	if cause := holderGone(ctx); cause != nil {
		return cause
	}
	if runErr != nil {
		return runErr
	}
	if dropErr != nil {
		return dropErr
	}
	return closeErr
}

// lessGarbage collects garbage more often than Go's default (GOGC=100)
// unless GOGC says otherwise: frames are read in place from the rings, and
// a capture's heap is the few milliseconds of frames the merge makes wait
// (capture/spill.go), well under a MiB; at the default the runtime lets a
// heap that small grow to 4 MiB before collecting. Collecting it is cheap.
func lessGarbage() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(captureGCPercent)
	}
}

const captureGCPercent = 25

// captureTargets splits the arguments: the targets come first and end at
// the first word that is not a target (isTarget); the rest, quoted as one
// word or split into many, is the filter (docs/filters.md).
func captureTargets(args []string) ([]capture.Target, []string, error) {
	n := 0
	for n < len(args) && isTarget(args[n]) {
		n++
	}
	if n == 0 {
		return nil, nil, notATarget(args)
	}
	targets := make([]capture.Target, n)
	for i, a := range args[:n] {
		t, err := capture.ParseTarget(a)
		if err != nil {
			return nil, nil, err
		}
		targets[i] = t
	}
	return targets, args[n:], nil
}

// isTarget tells whether a word names a capture target (topology.IsTarget:
// a namespace by name, file or pid:N, alone or with /IFACE). A word with
// blanks is a quoted filter.
func isTarget(word string) bool {
	return !strings.ContainsAny(word, " \t\n") && topology.IsTarget(word)
}

// notATarget says why the first argument is not a target.
func notATarget(args []string) error {
	if len(args) == 0 {
		return errors.New("capture needs a target: NS or NS/IFACE")
	}
	if _, err := capture.CompileFilter(strings.Join(args, " "), capture.LinkEthernet); err == nil {
		return errors.New("capture needs a target before the filter: NS or NS/IFACE")
	}
	return missingTarget(args[0])
}

// compileCaptureFilter compiles the words after the targets; when the first
// of them is neither a keyword nor a namespace, both are said.
func compileCaptureFilter(e env, words []string) (*capture.Filter, error) {
	flt, err := capture.CompileFilter(strings.Join(words, " "), capture.LinkEthernet)
	var kw *capture.KeywordError
	if errors.As(err, &kw) && len(words) > 0 && kw.Word == words[0] && topology.ValidateNamespace(kw.Word) == nil {
		return nil, fmt.Errorf("%w, and namespace %q: %w", err, kw.Word, topology.ErrNoNamespace)
	}
	if err != nil {
		return nil, err
	}
	if !flt.FitsKernel() {
		fmt.Fprintf(e.stderr, "nsdump: warning: the filter compiles to %d instructions, more than the kernel's %d: every packet is copied to nsdump and filtered there\n", len(flt.Prog), capture.KernelMaxInsns)
	}
	return flt, nil
}

func pointNames(points []capture.Point) string {
	names := make([]string, len(points))
	for i, p := range points {
		names[i] = decode.Printable(p.Name)
	}
	return strings.Join(names, ", ")
}

// openSink returns the per-frame writer, what flushes it after each batch
// (so a file always ends on whole blocks, and a stream or a terminal shows
// packets as they come) and what closes it: lines on stdout, a capture
// file, or a capture stream on stdout. Writes stop waiting for a stalled
// reader once ctx ends.
func openSink(ctx context.Context, e env, name string, points []capture.Point, print func(b []byte, p *decode.Packet, point string, data []byte) []byte, owner int) (write func(f capture.Frame) error, flush, closeSink func() error, err error) {
	if name == "" {
		out := bufio.NewWriterSize(e.stdout, 1<<16) // guarded by run
		d := decode.NewDecoder()
		var p decode.Packet
		var line []byte
		return func(f capture.Frame) error {
			d.Decode(f, &p)
			line = appendDropLine(print(line[:0], &p, points[f.Point].Name, f.Data), f.Drop)
			line = append(line, '\n')
			_, err := out.Write(line)
			return err
		}, out.Flush, out.Flush, nil
	}
	var w io.Writer = e.stdout // guarded by run
	closeFile := func() error { return nil }
	if name != "-" {
		f, err := openOutput(ctx, name, owner)
		if err != nil {
			return nil, nil, nil, err
		}
		w, closeFile = newGuard(ctx, f), f.Close
	}
	var fw capture.FrameWriter
	if strings.HasSuffix(name, ".pcap") {
		fw, err = capture.NewPcapWriter(w, points[0].LinkType, points[0].SnapLen)
	} else {
		warnMixedLinkTypes(e.stderr, name, points)
		fw, err = capture.NewNgWriter(w, points, captureStamp)
	}
	if err == nil {
		err = fw.Flush() // the headers: a reader of a FIFO or stream sees the file start at once
	}
	if err != nil {
		closeFile()
		return nil, nil, nil, fmt.Errorf("write %s: %w", name, err)
	}
	wrap := func(err error) error {
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return nil
	}
	write = func(f capture.Frame) error { return wrap(fw.WriteFrame(f, f.Comment)) }
	if _, ng := fw.(*capture.NgWriter); ng && len(points) > 1 {
		// The frames of every point come in time order (the capture's
		// merge), a kernel drop's record beside them: every sighting of
		// one packet gets its id.
		ids, writeFrame := decode.NewPacketIDs(), write
		write = func(f capture.Frame) error {
			ids.Mark(&f)
			return writeFrame(f)
		}
	}
	return write,
		func() error { return wrap(fw.Flush()) },
		func() error {
			err := fw.Flush()
			if cerr := closeFile(); err == nil {
				err = cerr
			}
			return wrap(err)
		}, nil
}

// account is the user -Z names, looked up before anything is opened.
type account struct {
	name     string
	uid, gid int
}

func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("-Z: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("-Z: user %q has no numeric uid/gid", name)
	}
	return &account{name: name, uid: uid, gid: gid}, nil
}

func (a *account) uidOr(def int) int {
	if a == nil {
		return def
	}
	return a.uid
}

// become makes the process the user, all threads at once (Go's setuid and
// setgid apply to every thread of the process on Linux), keeping no
// supplementary groups and no capabilities.
func (a *account) become() error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("-Z %s: setgroups: %w", a.name, err)
	}
	if err := syscall.Setgid(a.gid); err != nil {
		return fmt.Errorf("-Z %s: setgid: %w", a.name, err)
	}
	if err := syscall.Setuid(a.uid); err != nil {
		return fmt.Errorf("-Z %s: setuid: %w", a.name, err)
	}
	return nil
}
