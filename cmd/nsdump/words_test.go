package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/trace"
	"github.com/nsdump/nsdump/trace/facts"
)

// TestProbeColumnsAligned: the verdict lines of a trace keep their kind
// and outcome columns aligned whatever the namespaces' names, pid:N and
// long names included.
func TestProbeColumnsAligned(t *testing.T) {
	probes := []trace.Probe{
		{Direction: "a->b", Kind: "icmp-echo", Family: 4, OK: true},
		{Direction: "pid:4194304->pid:4194305", Kind: "icmp-echo", Family: 4, OK: true},
		{Direction: "b->a", Kind: "tcp", Family: 4, Cause: "no-route", Namespace: "b"},
	}
	var out bytes.Buffer
	width := directionWidth(probes)
	for _, p := range probes {
		printProbe(&out, p, 7096, func(_, s string) string { return s }, false, width)
	}
	col := -1
	for _, l := range strings.Split(out.String(), "\n") {
		if l == "" || strings.HasPrefix(l, " ") {
			continue
		}
		i := strings.Index(l, " icmp-echo")
		if i < 0 {
			i = strings.Index(l, " tcp:7096")
		}
		if col >= 0 && i != col {
			t.Errorf("the kind column starts at %d, not %d:\n%s", i, col, out.String())
		}
		col = i
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 packets", 1: "1 packet", 2: "2 packets"} {
		if got := plural(n, "packet"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestHelpShowsNoTypeWordCount: repeatable flags (-v, -X, -A, -t, -n)
// take no value; help shows none.
func TestHelpShowsNoTypeWordCount(t *testing.T) {
	for _, c := range commands() {
		out, _, code := nsdump(c.name, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d", c.name, code)
		}
		if strings.Contains(out, " count ") {
			t.Errorf("%s --help shows the type word count:\n%s", c.name, out)
		}
	}
	if out, _, _ := nsdump("teardown", "--help"); !strings.Contains(out, "--addr0 stringArray   ignored") {
		t.Errorf("teardown --help does not say the addresses are ignored:\n%s", out)
	}
}

// TestRouteAsIPRouteGet: on a lab with its routes, every example of
// route --help works (names substituted); a failing lookup prints on
// standard error exactly what ip route get prints, nothing more.
func TestRouteAsIPRouteGet(t *testing.T) {
	l := labtest.New(t, "ou", true)
	help, _, _ := nsdump("route", "--help")
	_, examples, _ := strings.Cut(help, "Examples:\n")
	names := strings.NewReplacer("vnet0", l.NS0, "vnet1", l.NS1, "veth0", l.Veth0, "veth1", l.Veth1,
		"10.0.1.0", l.Addr0.Addr().String(), "10.0.2.0", l.Addr1.Addr().String())
	n := 0
	for _, ex := range strings.Split(strings.TrimSpace(examples), "\n") {
		args := strings.Fields(names.Replace(ex))[1:]
		if out, e, code := nsdump(args...); code != 0 {
			t.Errorf("help example %q (as %v): exit %d %q %q", ex, args, code, out, e)
		}
		n++
	}
	if n < 2 {
		t.Fatalf("route --help has %d examples:\n%s", n, help)
	}
	unreachable := "10.255.0.1"
	ipOut, _ := exec.Command("ip", "-n", l.NS0, "route", "get", unreachable).CombinedOutput()
	out, e, code := nsdump("route", l.NS0, unreachable)
	if code != 1 || out != "" || e != string(ipOut) {
		t.Errorf("route to %s: exit %d, stdout %q, stderr %q; ip route get says %q", unreachable, code, out, e, ipOut)
	}
}

// TestProbeKindShowsFamily: in a dual-stack trace each direction has an
// mtu probe per family; the IPv6 ones read mtu6, as the echo reads
// icmp6-echo and TCP tcp6:PORT.
func TestProbeKindShowsFamily(t *testing.T) {
	for _, tt := range []struct {
		kind   facts.ProbeKind
		family int
		want   string
	}{
		{"mtu", 4, "mtu"}, {"mtu", 6, "mtu6"}, {"tcp", 4, "tcp:7096"}, {"tcp", 6, "tcp6:7096"},
		{"icmp-echo", 4, "icmp-echo"}, {"icmp6-echo", 6, "icmp6-echo"},
	} {
		var out bytes.Buffer
		printProbe(&out, trace.Probe{Direction: "a->b", Kind: tt.kind, Family: tt.family, OK: true}, 7096, func(_, s string) string { return s }, false, 14)
		if f := strings.Fields(out.String()); len(f) < 2 || f[1] != tt.want {
			t.Errorf("%s IPv%d: %q, want the kind %s", tt.kind, tt.family, out.String(), tt.want)
		}
	}
}
