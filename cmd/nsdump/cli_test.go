package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/trace"
)

// TestTcpdumpHabits: tcpdump's flags get nsdump's answer, one line each.
func TestTcpdumpHabits(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"capture", "-i", "veth0"}, "use NS/IFACE as a target"},
		{[]string{"capture", "-r", "lab.pcap"}, "use nsdump read lab.pcap"},
		{[]string{"read", "-r", "lab.pcap"}, "use nsdump read lab.pcap"},
		// -n and -nn parse: what fails is the namespace, not the flag.
		{[]string{"capture", "-n", "nsdcl-never-made"}, `namespace "nsdcl-never-made"`},
		{[]string{"capture", "-nn", "-e", "-v", "-XX", "nsdcl-never-made"}, `namespace "nsdcl-never-made"`},
		{[]string{"capture", "-c", "-1", "x"}, "-c -1: the packet count"},
		{[]string{"capture", "-s", "-1", "x"}, "-s -1: the snap length"},
		{[]string{"capture", "-s", "262145", "x"}, "-s 262145: the snap length"},
		{[]string{"capture", "-Z", "nosuchuser-cl", "x"}, "nosuchuser-cl"},
		{[]string{"trace", "a", "b", "--count", "0"}, "--count 0: the echo requests"},
		{[]string{"trace", "a", "b", "--timeout", "0s"}, "--timeout 0s: the wait"},
		{[]string{"trace", "a", "b", "--timeout", "2m"}, "--timeout 2m0s: the wait"},
		{[]string{"trace", "a", "b", "--port", "0"}, "--port 0: the TCP port"},
		{[]string{"read", "-X", "x.pcap"}, "-X prints packets: add --packets"},
		{[]string{"read", "-v", "x.pcap"}, "-v prints packets: add --packets"},
		{[]string{"capture", "-c", "many", "x"}, `-c many: want a whole number`},
		{[]string{"trace", "a", "b", "--timeout", "soon"}, `--timeout soon: want a duration`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, e, code := nsdump(tt.args...)
			if code != 2 || !strings.Contains(e, tt.want) || strings.Count(e, "\n") != 1 {
				t.Fatalf("exit %d, %q; want exit 2 and one line containing %q", code, e, tt.want)
			}
			if strings.Contains(e, "unknown shorthand") || strings.Contains(e, ", --") {
				t.Fatalf("%q: lumped or unknown flags", e)
			}
		})
	}
}

// TestHelpAndSuggestions: nsdump help CMD is CMD --help; a misspelt
// command or flag gets the nearest name.
func TestHelpAndSuggestions(t *testing.T) {
	for _, c := range commands() {
		out, _, code := nsdump("help", c.name)
		want, _, _ := nsdump(c.name, "--help")
		if code != 0 || out != want || !strings.HasPrefix(out, "Usage: nsdump "+c.name) {
			t.Errorf("help %s: exit %d %q, want %q", c.name, code, out, want)
		}
	}
	for _, tt := range []struct{ args []string }{
		{[]string{"help", "captrue"}}, {[]string{"captrue", "x"}}, {[]string{"trcae"}},
	} {
		_, e, code := nsdump(tt.args...)
		if code != 2 || !strings.Contains(e, "did you mean") {
			t.Errorf("%v: exit %d %q, want a suggestion", tt.args, code, e)
		}
	}
	if _, e, _ := nsdump("capture", "--cout", "3"); !strings.Contains(e, "did you mean --count?") {
		t.Errorf("capture --cout: %q", e)
	}
	if _, e, _ := nsdump("teardown", "--leftover"); !strings.Contains(e, "did you mean --leftovers?") {
		t.Errorf("teardown --leftover: %q", e)
	}
	if _, e, _ := nsdump("xyzzy"); strings.Contains(e, "did you mean") {
		t.Errorf("xyzzy: a suggestion for a word like no command: %q", e)
	}
	if out, _, _ := nsdump("route", "--help"); !strings.Contains(out, "\nLook up a route") || strings.Contains(out, "Ip route") {
		t.Errorf("route --help: %q", out)
	}
}

// TestUsageLinesComplete: every flag a command's help lists appears in its
// usage line (the naming flags as "[naming flags]").
func TestUsageLinesComplete(t *testing.T) {
	flagLine := regexp.MustCompile(`^\s+(?:-(\w), )?--([\w-]+)`)
	naming := map[string]bool{"ns0": true, "ns1": true, "veth0": true, "veth1": true, "addr0": true, "addr1": true}
	for _, c := range commands() {
		out, _, _ := nsdump(c.name, "--help")
		usage := strings.SplitN(out, "\n", 2)[0]
		_, flags, _ := strings.Cut(out, "\nFlags:\n")
		flags, _, _ = strings.Cut(flags, "\nExamples:")
		for _, l := range strings.Split(flags, "\n") {
			m := flagLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			short, long := m[1], m[2]
			switch {
			case naming[long]:
				if !strings.Contains(usage, "[naming flags]") {
					t.Errorf("%s: --%s, but no [naming flags] in %q", c.name, long, usage)
				}
			case short != "" && strings.Contains(usage, "-"+short):
			case strings.Contains(usage, "--"+long):
			default:
				t.Errorf("%s: the usage line %q lacks %s", c.name, usage, strings.TrimSpace(l))
			}
		}
	}
}

// TestTraceHeaderPlural: "(1 echo", "(3 echoes".
func TestTraceHeaderPlural(t *testing.T) {
	res := &trace.Result{From: trace.Endpoint{Namespace: "a", Address: "10.0.1.0"}, To: trace.Endpoint{Namespace: "b", Address: "10.0.2.0"}}
	for n, want := range map[int]string{1: "(1 echo,", 3: "(3 echoes,"} {
		var b bytes.Buffer
		printTrace(&b, res, trace.Config{Count: n, Port: 7096, Timeout: time.Second}, false)
		if !strings.Contains(b.String(), want) {
			t.Errorf("count %d: %q, want %q", n, b.String(), want)
		}
	}
}
