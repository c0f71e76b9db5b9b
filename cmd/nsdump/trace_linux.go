package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace"
	"github.com/nsdump/nsdump/trace/facts"
	"golang.org/x/sys/unix"
)

func runTrace(ctx context.Context, e env, args []string) error {
	o, err := parseTrace(e, args)
	if err != nil {
		return err
	}
	cfg := o.cfg
	if err := topology.CheckPrivileges(); err != nil {
		return err
	}
	warnLeftovers(e)
	ts := topology.NewTargets()
	held, release, err := holdTargets(ts, []string{cfg.From, cfg.To})
	if err != nil {
		return err
	}
	defer release()
	if err := sameNamespace(held[0], held[1]); err != nil {
		return err
	}
	cfg.From, cfg.To, cfg.Targets = held[0].Name, held[1].Name, ts
	res, err := trace.Run(ctx, cfg)
	if err != nil {
		if res != nil && o.write != "" {
			savePartial(e, o.write, res.Points, []*trace.Result{res})
		}
		return err
	}
	warnDrops(e.stderr, res)
	if o.write != "" {
		if err := writeTrace(ctx, e.stderr, o.write, res.Points, []*trace.Result{res}); err != nil {
			return err
		}
	}
	if o.json {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printTrace(e.stdout, res, cfg, useColor(e.stdout))
	}
	if !res.OK {
		return failure{errors.New("a probe failed")}
	}
	return nil
}

// traceOpts are trace's flags, checked.
type traceOpts struct {
	cfg   trace.Config
	write string
	json  bool
}

// parseTrace reads and checks trace's flags and its two namespaces, before
// any system call.
func parseTrace(e env, args []string) (*traceOpts, error) {
	fs := newFlags(e, "trace")
	to := fs.String("to", "", "address in NS_B to probe, IPv4 or IPv6 (default: per family, the one NS_A's route reaches through the interface facing NS_B)")
	from := fs.String("from", "", "address in NS_A: the source of its probes and what NS_B probes (default: chosen as --to is)")
	port := fs.Uint16("port", 7096, "TCP port to connect to")
	noListen := fs.Bool("no-listen", false, "do not listen on --port; probe whatever is (or is not) listening there")
	count := fs.Int("count", 3, "ICMP echo requests per direction")
	timeout := fs.Duration("timeout", time.Second, "how long to wait for answers")
	write := fs.StringP("write", "w", "", "write everything captured to this pcapng file, with the verdicts as comments and the facts they were judged from (nsdump read judges them again)")
	asJSON := fs.Bool("json", false, "print JSON")
	noNFTrace := fs.Bool("no-nftrace", false, "make no nftables table of nsdump's to ask the kernel which rule took each probe packet; evaluate the rules instead")
	udp := fs.Uint16("udp", 0, "also send datagrams each way to this UDP port, echoed by a responder trace runs there (unless --no-listen)")
	dns := fs.String("dns", "", "also resolve this name from NS_A as it would: a query to the first nameserver of its own resolv.conf")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() != 2 {
		return nil, errors.New("trace needs two namespaces: nsdump trace NS_A NS_B")
	}
	cfg := trace.Config{From: fs.Arg(0), To: fs.Arg(1), Port: *port, Count: *count, Timeout: *timeout, NoListen: *noListen, NoNFTrace: *noNFTrace,
		UDPPort: *udp, DNSName: *dns}
	if err := validateTargets([]string{cfg.From, cfg.To}); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		flag, in string
		out      *netip.Addr
	}{{"--to", *to, &cfg.ToAddr}, {"--from", *from, &cfg.FromAddr}} {
		if f.in == "" {
			continue
		}
		a, err := topology.ParseAddr(f.in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.flag, err)
		}
		if a.IsUnspecified() || a.IsMulticast() || a.IsLinkLocalUnicast() {
			return nil, fmt.Errorf("%s: %s cannot be probed: give a unicast global or ULA address", f.flag, a)
		}
		*f.out = a
	}
	if cfg.ToAddr.IsValid() && cfg.FromAddr.IsValid() && cfg.ToAddr.Is4() != cfg.FromAddr.Is4() {
		return nil, fmt.Errorf("--from %s and --to %s are not of one IP family", cfg.FromAddr, cfg.ToAddr)
	}
	if *count < 1 || *count > 100 {
		return nil, fmt.Errorf("--count %d: the echo requests per direction must be 1-100", *count)
	}
	if *timeout <= 0 || *timeout > time.Minute {
		return nil, fmt.Errorf("--timeout %s: the wait for answers must be above 0 and at most 1m", *timeout)
	}
	if *port == 0 {
		return nil, errors.New("--port 0: the TCP port must be 1-65535")
	}
	if fs.Changed("udp") && *udp == 0 {
		return nil, errors.New("--udp 0: the UDP port must be 1-65535")
	}
	if fs.Changed("dns") {
		if err := trace.ValidateDNSName(*dns); err != nil {
			return nil, err
		}
	}
	return &traceOpts{cfg: cfg, write: *write, json: *asJSON}, nil
}

func useColor(w io.Writer) bool {
	f, ok := underlying(w).(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func printTrace(w io.Writer, res *trace.Result, cfg trace.Config, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	echoes := "echoes"
	if cfg.Count == 1 {
		echoes = "echo"
	}
	more := ""
	if cfg.UDPPort != 0 {
		more += fmt.Sprintf(", UDP port %d", cfg.UDPPort)
	}
	if cfg.DNSName != "" {
		more += ", DNS " + cfg.DNSName // checked: printable
	}
	fmt.Fprintf(w, "trace %s %s <-> %s %s (%d %s, TCP port %d%s, timeout %s)\n",
		decode.Printable(res.From.Namespace), strings.Join(res.From.Addresses, ","), decode.Printable(res.To.Namespace), strings.Join(res.To.Addresses, ","), cfg.Count, echoes, cfg.Port, more, cfg.Timeout)
	printPath(w, res)
	if len(res.NFTables) > 0 {
		fmt.Fprintf(w, "nftables trace (tables made and removed): %s\n", decode.Printable(strings.Join(res.NFTables, ", ")))
	}
	width := directionWidth(res.Probes)
	for _, p := range res.Probes {
		printProbe(w, p, cfg.Port, paint, true, width)
	}
	verdict := paint("32", "all probes ok")
	if !res.OK {
		verdict = paint("31", "some probes failed")
	}
	fmt.Fprintf(w, "\n%s\n", verdict)
}

// writeTrace writes the frames of one or more traces to a pcapng file whose
// section comment holds the verdicts, whose packets carry the verdict they
// are evidence for, and whose Custom Blocks (one a trace) hold the facts
// the verdicts were judged from, for `nsdump read` to judge them again.
func writeTrace(ctx context.Context, stderr io.Writer, name string, points []capture.Point, results []*trace.Result) error {
	f, err := openOutput(ctx, name, -1)
	if err != nil {
		return err
	}
	warnMixedLinkTypes(stderr, name, points)
	var summary []string
	for _, r := range results {
		for _, p := range r.Probes {
			summary = append(summary, p.Summary())
		}
	}
	w, err := capture.NewNgWriter(newGuard(ctx, f), points, "nsdump trace\n"+strings.Join(summary, "\n"))
	if err == nil {
		index := map[string]int{}
		for i, p := range points {
			index[p.Name] = i
		}
		// Each trace numbers its packets from 1; the next trace's ids
		// follow the last one's, one packet one id in the file.
		var base, last uint64
		for _, r := range results {
			base = last
			verdicts := r.FrameVerdicts()
			for i, fr := range r.Frames {
				fr.Point = index[r.Points[fr.Point].Name]
				if fr.PacketID != 0 {
					fr.PacketID += base
					last = max(last, fr.PacketID)
				}
				if err = w.WriteFrame(fr, joinComments(fr.Comment, verdicts[i])); err != nil {
					break
				}
			}
		}
	}
	// The facts each trace judged, after the packets (tshark lists the
	// block as a record of its own; after the packets, their numbers are
	// the same as without it).
	for _, r := range results {
		if err != nil {
			break
		}
		var stored []byte
		if stored, err = r.Record(); err == nil && stored != nil {
			err = w.WriteCustom(facts.FactsPEN, stored)
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// savePartial writes what interrupted traces captured, saying so on
// stderr: the signal has already come, so the file gets a second of its
// own to open (a FIFO's reader) and take the packets.
func savePartial(e env, name string, points []capture.Point, results []*trace.Result) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n := 0
	for _, r := range results {
		n += len(r.Frames)
	}
	if err := writeTrace(ctx, e.stderr, name, points, results); err != nil {
		fmt.Fprintf(e.stderr, "nsdump: interrupted; the %s captured so far were not written: %s\n", plural(n, "packet"), errorText(err))
		return
	}
	fmt.Fprintf(e.stderr, "nsdump: interrupted; wrote the %s captured so far, without verdicts, to %s\n", plural(n, "packet"), name)
}

// printPath shows each direction's path when it crosses other namespaces
// than the two ends: "A a0 > pa M (bridge) pb > b0 B". When another IP
// family's path differs, both are shown, each marked with its family.
func printPath(w io.Writer, res *trace.Result) {
	dirs := []string{res.From.Namespace + "->" + res.To.Namespace, res.To.Namespace + "->" + res.From.Namespace}
	for _, dir := range dirs {
		first := facts.FamilyPath{Direction: dir, Hops: res.Path[dir]}
		var others []facts.FamilyPath
		for _, p := range res.Paths {
			switch {
			case p.Direction != dir:
			case slices.Equal(p.Hops, first.Hops) && first.Family == 0:
				first = p
			case !slices.Equal(p.Hops, first.Hops):
				others = append(others, p)
			}
		}
		label := ""
		if len(others) > 0 {
			label = fmt.Sprintf(" (IPv%d)", first.Family)
		}
		printHops(w, dir+label, first, len(others) > 0)
		for _, p := range others {
			printHops(w, fmt.Sprintf("%s (IPv%d)", dir, p.Family), p, true)
		}
	}
}

// printHops prints one path's line, unless it joins its two ends directly
// and always is false.
func printHops(w io.Writer, title string, p facts.FamilyPath, always bool) {
	between := func(h facts.Hop) bool { return h.Role == facts.RoleBridge || h.Role == facts.RoleRouter }
	if !always && !p.Truncated && !slices.ContainsFunc(p.Hops, between) {
		return
	}
	var parts []string
	for i, h := range p.Hops {
		s := decode.Printable(h.Namespace)
		switch {
		case h.DNATTo.IsValid():
			s += " (" + string(h.Role) + ", DNAT to " + h.DNATTo.String() + ")"
		case between(h):
			s += " (" + string(h.Role) + ")"
		}
		if h.In != "" {
			s = decode.Printable(h.In) + " " + s
		}
		if h.Out != "" {
			s += " " + decode.Printable(h.Out)
		}
		switch {
		case i < len(p.Hops)-1 || h.Role == facts.RoleDestination:
		case p.Truncated:
			s += fmt.Sprintf(" > ... (goes on past %d namespaces: not followed or captured further)", facts.MaxHops)
		default:
			s += " ... (no way on)"
		}
		parts = append(parts, s)
	}
	fmt.Fprintf(w, "path %s: %s\n", decode.Printable(title), strings.Join(parts, " > "))
}
