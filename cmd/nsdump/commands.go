package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/nsdump/nsdump/topology"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// failure is the thing looked at failing (a route lookup, a probe): exit 1.
type failure struct{ err error }

func (f failure) Error() string { return f.err.Error() }
func (f failure) Unwrap() error { return f.err }

// shown is an error the command already wrote to standard error in the
// words a user expects there (route's kernel error, as ip route get
// prints it): main adds no "nsdump: " line of its own.
type shown struct{ error }

func (s shown) Unwrap() error { return s.error }

// reportable reports whether main should print err.
func reportable(err error) bool {
	var s shown
	return err != nil && !errors.As(err, &s)
}

// errHelp ends a command after --help.
var errHelp = errors.New("help shown")

func exitCode(err error) int {
	var f failure
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &f):
		return 1
	}
	return 2
}

type env struct {
	stdout, stderr io.Writer
}

type command struct {
	name, args, summary, examples string
	run                           func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{name: "setup", args: "[--routes] [naming flags]", summary: "build the two-namespace veth lab (idempotent)",
			examples: "nsdump setup\n  nsdump setup --routes\n  nsdump setup --ns0 red --ns1 blue --addr0 192.168.7.1/24 --addr1 192.168.8.1/24\n  nsdump setup --addr0 10.0.1.0/24 --addr0 fd00:1::1/64 --addr1 10.0.2.0/24 --addr1 fd00:2::1/64",
			run:      runSetup},
		{name: "teardown", args: "[--force] [--leftovers] [naming flags]", summary: "remove what setup built, and nothing else",
			examples: "nsdump teardown\n  nsdump teardown --ns0 red --ns1 blue", run: runTeardown},
		{name: "ls", args: "[NS...] [--all] [--containers] [--json]", summary: "interfaces, addresses, veth peers and routes of namespaces",
			examples: "nsdump ls\n  nsdump ls vnet0 --json\n  nsdump ls pid:4242 /run/docker/netns/1a2b3c\n  nsdump ls --all\n  nsdump ls --containers\n  nsdump ls docker:web pod:default/nginx", run: runLs},
		{name: "route", args: "NS DST [--from SRC] [--iif IFACE] [--json]", summary: "look up a route inside a namespace, as ip route get does",
			examples: "nsdump route vnet0 10.0.2.0\n  nsdump route vnet1 10.0.2.0 --from 10.0.1.0 --iif veth1", run: runRoute},
		{name: "capture", args: "TARGET...|--all [-w FILE|-] [-c N] [-s SNAPLEN] [-B KiB] [-Z USER] [--drops] [-e] [-X|-XX|-A|-AA] [-v] [-S] [-t...] [-n] [FILTER...]", summary: "sniff interfaces inside namespaces, both veth ends at once",
			examples: "nsdump capture vnet0 vnet1/veth1\n  nsdump capture vnet0 -w lab.pcapng -c 20\n  nsdump capture vnet1/veth1 -e -X tcp port 7096\n  nsdump capture vnet0 -w - | tshark -r -\n  nsdump capture pid:4242/eth0 icmp6\n  nsdump capture --all -w all.pcapng icmp", run: runCapture},
		{name: "read", args: "FILE... [--json] [--packets [-e] [-X|-XX|-A|-AA] [-v] [-S] [-t...] [-n]] [--expect EXPR]... [--expect-file FILE] [--idle 1m] [--max-open 20000] [FILTER...]", summary: "exchange report from pcap/pcapng files",
			examples: "nsdump read lab.pcapng\n  nsdump read --packets a.pcap b.pcapng\n  nsdump read --packets -v -X lab.pcapng icmp\n  nsdump read - --json < lab.pcapng\n  nsdump read b.pcapng --expect 'icmp-echo[probe=mtu]:answered>=1' --expect 'drops[probe=icmp-echo,stray=false]==0'", run: runRead},
		{name: "trace", args: "NS_A NS_B [--to ADDR] [--from ADDR] [--port 7096] [--udp PORT] [--dns NAME] [--no-listen] [--no-nftrace] [--count 3] [--timeout 1s] [-w FILE] [--json]",
			summary:  "probe both ways while capturing both ends, then explain every failure",
			examples: "nsdump trace vnet0 vnet1\n  nsdump trace vnet0 vnet1 --json -w trace.pcapng\n  nsdump trace vnet0 vnet1 --no-listen --port 22\n  nsdump trace vnet0 vnet1 --to 10.0.2.9",
			run:      runTrace},
		{name: "demo", args: "[--keep] [-w demo.pcapng] [naming flags]", summary: "the whole walkthrough in one command: trace, fix, trace again",
			examples: "nsdump demo\n  nsdump demo --keep", run: runDemo},
		{name: "wireshark-plugin", args: "[--install|--path]", summary: "print the Wireshark plugin that adds nsdump.* fields, or install it",
			examples: "nsdump wireshark-plugin > nsdump.lua; tshark -X lua_script:nsdump.lua -r trace.pcapng -Y nsdump.drop.reason\n  nsdump wireshark-plugin --install", run: runPlugin},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// Every command's output gives up on a reader that stopped reading,
	// once a signal came: a stalled pipe cannot hold nsdump.
	out := &checkedWriter{w: newGuard(ctx, stdout)}
	e := env{stdout: out, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return errors.New("no command given")
	}
	switch args[0] {
	case "-h", "--help":
		usage(out)
		return out.check(nil)
	case "help":
		if len(args) == 1 {
			usage(out)
			return out.check(nil)
		}
		if find(args[1]) == nil {
			return unknownCommand(args[1])
		}
		args = []string{args[1], "--help"}
	case "--version", "version":
		fmt.Fprintln(out, "nsdump", version)
		return out.check(nil)
	}
	c := find(args[0])
	if c == nil {
		return unknownCommand(args[0])
	}
	err := c.run(ctx, e, args[1:])
	if errors.Is(err, errHelp) {
		err = nil
	}
	return out.check(err)
}

func find(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return &c
		}
	}
	return nil
}

func unknownCommand(name string) error {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	if s := suggest(name, names); s != "" {
		return fmt.Errorf("unknown command %q: did you mean %q? (see nsdump --help)", name, s)
	}
	return fmt.Errorf("unknown command %q (see nsdump --help)", name)
}

// suggest returns the candidate closest to word, if it is close enough to
// be a typo: at most two edits, fewer than the word's length.
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD && d < len(word) {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is Levenshtein's, with a swap of neighbours counted as one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "nsdump: a packet-capture debugger for Linux network namespaces")
	fmt.Fprintln(w, "\nUsage: nsdump COMMAND [ARGS]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'nsdump help COMMAND' (or 'nsdump COMMAND --help') for a command's flags and examples. 'nsdump --version' prints the version.")
}

// newFlags builds a command's flag set; its usage text ends with examples.
func newFlags(e env, name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.SortFlags = false
	for _, c := range commands() {
		if c.name == name {
			fs.Usage = func() {
				fmt.Fprintf(e.stdout, "Usage: nsdump %s %s\n\n%s.\n\nFlags:\n%s\nExamples:\n  %s\n",
					c.name, c.args, strings.ToUpper(c.summary[:1])+c.summary[1:], flagUsages(fs), c.examples)
			}
		}
	}
	return fs
}

// flagUsages is pflag's flag list without the type word "count" it shows
// after a repeatable flag (-v, -X, -t): it takes no value. The word is
// blanked, not cut, so the descriptions stay aligned.
func flagUsages(fs *pflag.FlagSet) string {
	text := fs.FlagUsages()
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Value.Type() == "count" {
			name := "--" + f.Name + " count"
			text = strings.Replace(text, name, "--"+f.Name+strings.Repeat(" ", len(" count")), 1)
		}
	})
	return text
}

// parse parses flags, turning --help into errHelp after printing usage.
func parse(fs *pflag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		return errHelp
	}
	if err != nil {
		if msg := badValue(fs, err); msg != "" {
			return errors.New(msg)
		}
		return fmt.Errorf("%s: %w%s", fs.Name(), err, flagSuggestion(fs, err))
	}
	return nil
}

// badValue turns pflag's `invalid argument "x" for "-c, --count" flag:
// strconv.ParseInt: ...` into "-c x: want a whole number", or "".
func badValue(fs *pflag.FlagSet, err error) string {
	var value, names string
	if n, _ := fmt.Sscanf(err.Error(), "invalid argument %q for %q flag", &value, &names); n != 2 {
		return ""
	}
	name := names
	if i := strings.LastIndex(names, "--"); i >= 0 {
		name = names[i:]
	}
	f := fs.Lookup(strings.TrimPrefix(name, "--"))
	if f == nil {
		return ""
	}
	if f.Shorthand != "" {
		name = "-" + f.Shorthand
	}
	want := "a " + f.Value.Type()
	switch f.Value.Type() {
	case "int", "count":
		want = "a whole number"
	case "uint16":
		want = "a whole number from 0 to 65535"
	case "duration":
		want = "a duration such as 500ms, 2s or 1m"
	}
	return fmt.Sprintf("%s %s: want %s", name, value, want)
}

// flagSuggestion is " (did you mean --count?)" after pflag's "unknown
// flag: --cout", or nothing.
func flagSuggestion(fs *pflag.FlagSet, err error) string {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return ""
	}
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	if s := suggest(name, names); s != "" {
		return fmt.Sprintf(": did you mean --%s?", s)
	}
	return ""
}

// labFlags are the naming flags shared by setup, teardown and demo.
type labFlags struct {
	ns0, ns1, veth0, veth1 string
	addr0, addr1           []string
}

func addLabFlags(fs *pflag.FlagSet) *labFlags {
	d := topology.DefaultLab()
	f := &labFlags{}
	fs.StringVar(&f.ns0, "ns0", d.NS0, "first namespace")
	fs.StringVar(&f.ns1, "ns1", d.NS1, "second namespace")
	fs.StringVar(&f.veth0, "veth0", d.Veth0, "veth end in the first namespace")
	fs.StringVar(&f.veth1, "veth1", d.Veth1, "veth end in the second namespace")
	fs.StringArrayVar(&f.addr0, "addr0", []string{d.Addr0.String()}, "address/prefix of veth0, IPv4 or IPv6; repeat for both families")
	fs.StringArrayVar(&f.addr1, "addr1", []string{d.Addr1.String()}, "address/prefix of veth1, IPv4 or IPv6; repeat for both families")
	return f
}

func (f *labFlags) lab() (topology.Lab, error) {
	l := topology.Lab{NS0: f.ns0, NS1: f.ns1, Veth0: f.veth0, Veth1: f.veth1}
	for _, side := range []struct {
		flag  string
		in    []string
		first *netip.Prefix
		more  *[]netip.Prefix
	}{{"--addr0", f.addr0, &l.Addr0, &l.Extra0}, {"--addr1", f.addr1, &l.Addr1, &l.Extra1}} {
		if len(side.in) == 0 {
			return l, fmt.Errorf("%s: no address", side.flag)
		}
		for i, s := range side.in {
			p, err := topology.ParseInterfacePrefix(s)
			if err != nil {
				return l, fmt.Errorf("%s: %w", side.flag, err)
			}
			if i == 0 {
				*side.first = p
			} else {
				*side.more = append(*side.more, p)
			}
		}
	}
	return l, l.Validate()
}

func noArgs(fs *pflag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
