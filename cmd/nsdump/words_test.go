package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace"
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
