package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
)

// TestCaptureFilterArguments: the targets end at the first word that is
// not one; the filter may be one quoted word or many.
func TestCaptureFilterArguments(t *testing.T) {
	l := labtest.New(t, "fl", true)
	for _, tt := range []struct {
		args    []string
		targets int
		filter  string
	}{
		{[]string{l.NS0, "tcp port 7096"}, 1, "tcp port 7096"},
		{[]string{l.NS0, "tcp", "port", "7096"}, 1, "tcp port 7096"},
		{[]string{l.NS0, l.NS1 + "/" + l.Veth1, "tcp[tcpflags] & tcp-syn != 0"}, 2, "tcp[tcpflags] & tcp-syn != 0"},
		{[]string{l.NS0, l.NS1, "icmp or arp", "and", "host 10.20.9.9"}, 2, "icmp or arp and host 10.20.9.9"},
		{[]string{l.NS0, "10.0.0.1"}, 1, "10.0.0.1"},
		{[]string{l.NS0}, 1, ""},
	} {
		targets, filter, err := captureTargets(tt.args)
		if err != nil || len(targets) != tt.targets || strings.Join(filter, " ") != tt.filter {
			t.Errorf("%q: %d targets, filter %q, %v; want %d and %q", tt.args, len(targets), filter, err, tt.targets, tt.filter)
		}
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{l.NS0, "vlan and bogus"}, []string{"unknown filter keyword 'bogus'"}},
		{[]string{l.NS0, "tcp", "or", "frobnicate"}, []string{"unknown filter keyword 'frobnicate'"}},
		{[]string{l.NS0, "nsfl-misspelt"}, []string{"unknown filter keyword 'nsfl-misspelt'", `namespace "nsfl-misspelt"`, "ip netns list"}},
		{[]string{"tcp port 7096"}, []string{"capture needs a target before the filter"}},
		{[]string{"nsfl-never-made", "tcp"}, []string{`namespace "nsfl-never-made"`, "ip netns list"}},
		{[]string{l.NS0, "tcp or udp and"}, []string{"filter: syntax error"}},
	} {
		_, e, code := nsdump(append([]string{"capture"}, tt.args...)...)
		for _, w := range tt.want {
			if code != 2 || !strings.Contains(e, w) || strings.Count(e, "\n") != 1 {
				t.Errorf("capture %q: exit %d %q, want exit 2 and one line with %q", tt.args, code, e, w)
			}
		}
		if strings.Contains(tt.want[0], "keyword") && strings.Contains(e, "no such namespace") && !strings.Contains(tt.want[0], "nsfl") {
			t.Errorf("capture %q: a filter keyword reported as a namespace: %q", tt.args, e)
		}
	}
}

// TestCapturePrecedenceLive: "icmp or arp and host X" is (icmp or arp)
// and host X, in the kernel as in tcpdump: the echoes between the lab's
// ends are not X's, so only the ARP for X is captured.
func TestCapturePrecedenceLive(t *testing.T) {
	l := labtest.New(t, "fl", true)
	a1 := l.Addr1.Addr().String()
	cmd, stdout, stderr := startCapture(t, l.NS0, "-c", "1", "icmp or arp and host 10.20.9.9")
	if out, err := exec.Command("ip", "netns", "exec", l.NS0, "ping", "-c2", "-i0.2", "-W1", a1).CombinedOutput(); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	if out, err := exec.Command("ip", "-n", l.NS0, "route", "add", "10.20.9.9", "dev", l.Veth0).CombinedOutput(); err != nil {
		t.Fatalf("route: %v\n%s", err, out)
	}
	exec.Command("ip", "netns", "exec", l.NS0, "ping", "-c1", "-W1", "10.20.9.9").Run() // unanswered: an ARP request
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr)
	}
	if out := stdout.String(); strings.Contains(out, "ICMP") || !strings.Contains(out, "ARP") {
		t.Errorf("capture of icmp or arp and host 10.20.9.9:\n%s", out)
	}
}

// TestCaptureLongFilter: a filter longer than the kernel takes is not
// attached: it runs in userland, with one warning.
func TestCaptureLongFilter(t *testing.T) {
	l := labtest.New(t, "fl", true)
	a1 := l.Addr1.Addr().String()
	hosts := []string{"host " + a1}
	for i := 0; i < 400; i++ {
		hosts = append(hosts, fmt.Sprintf("host 10.99.%d.%d", i/200, i%200+1))
	}
	cmd, stdout, stderr := startCapture(t, l.NS0, "-c", "2", "icmp and ("+strings.Join(hosts, " or ")+")")
	if out, err := exec.Command("ip", "netns", "exec", l.NS0, "ping", "-c1", "-W1", a1).CombinedOutput(); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr)
	}
	if n := strings.Count(stderr.String(), "warning"); n != 1 || strings.Count(stdout.String(), "ICMP echo") != 2 {
		t.Errorf("%d warnings (want 1), output:\n%s\n%s", n, stdout, stderr)
	}
}
