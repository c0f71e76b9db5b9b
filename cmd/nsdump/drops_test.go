package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
)

// dropLab is a lab with routes whose second namespace drops echo requests
// with an nftables rule.
func dropLab(t *testing.T) (ns0, ns1, v1, a1 string) {
	t.Helper()
	l := labtest.Names(t, "dr")
	if _, e, code := nsdump(append([]string{"setup", "--routes"}, labtest.Flags(l)...)...); code != 0 {
		t.Fatalf("setup: %s", e)
	}
	rule := "add table inet drt; add chain inet drt in { type filter hook input priority 0; policy accept; }; add rule inet drt in icmp type echo-request drop"
	if out, err := exec.Command("ip", "netns", "exec", l.NS1, "nft", rule).CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	return l.NS0, l.NS1, l.Veth1, l.Addr1.Addr().String()
}

// TestCaptureDropsToPcapng: the echo request B's firewall drops is in the
// file on B/drops with the kernel's reason as its comment, as stock tshark
// shows it.
func TestCaptureDropsToPcapng(t *testing.T) {
	ns0, ns1, v1, a1 := dropLab(t)
	file := filepath.Join(t.TempDir(), "drops.pcapng")
	cmd, _, stderr := startCapture(t, ns0, ns1, "--drops", "-w", file)
	exec.Command("ip", "netns", "exec", ns0, "ping", "-c2", "-i0.2", "-W0.3", a1).Run()
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "kernel drops recorded, 0 lost by the drop monitor") {
		t.Errorf("no drop statistics, or drops lost: %s", stderr)
	}
	want := ns1 + "/drops\tdrop: NETFILTER_DROP at nft_do_chain (" + v1 + ")\t8\t" + a1
	found := 0
	for _, line := range tshark(t, file, "frame.interface_name", "frame.comment", "icmp.type", "ip.dst") {
		if strings.HasSuffix(strings.SplitN(line, "\t", 2)[0], "/drops") {
			if name := strings.SplitN(line, "\t", 2)[0]; name != ns0+"/drops" && name != ns1+"/drops" {
				t.Errorf("a drop point of a namespace nobody captured: %q", line)
			}
			if !strings.Contains(line, "\tdrop: ") {
				t.Errorf("a drop without its comment: %q", line)
			}
		}
		if line == want {
			found++
		}
	}
	// nsdump read puts the kernel's word beside the exchange.
	note := "the echo request was dropped in " + ns1 + ": NETFILTER_DROP at nft_do_chain (" + v1 + ")"
	if out, e, _ := nsdump("read", file); !strings.Contains(out, note) {
		t.Errorf("nsdump read does not say %q:\n%s%s", note, out, e)
	}
	if found != 2 {
		t.Errorf("%d of the 2 dropped echo requests listed as %q; tshark says:\n%s", found, want,
			strings.Join(tshark(t, file, "frame.interface_name", "frame.comment", "icmp.type", "ip.dst"), "\n"))
	}
}

// TestCaptureDropsLines: without -w the dropped packet is a line marked DROP.
func TestCaptureDropsLines(t *testing.T) {
	ns0, ns1, v1, a1 := dropLab(t)
	cmd := exec.Command(buildNsdump(t), "capture", ns1, "--drops", "icmp")
	stdout, stderr := &lockedWriter{buf: &bytes.Buffer{}}, &lockedWriter{buf: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "capture to start", func() bool { return strings.Contains(stderr.String(), "capturing on") })
	want := ns1 + "/drops In IP "
	reason := "DROP NETFILTER_DROP at nft_do_chain (" + v1 + ")"
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), reason) {
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q:\n%s\n%s", reason, stdout, stderr)
		}
		exec.Command("ip", "netns", "exec", ns0, "ping", "-c1", "-W0.2", a1).Run()
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.Contains(line, reason) && !(strings.Contains(line, want) && strings.Contains(line, "> "+a1+": ICMP echo request")) {
			t.Errorf("drop line %q", line)
		}
	}
}

// TestTraceKernelLine: trace prints the kernel's reason beside the verdict.
func TestTraceKernelLine(t *testing.T) {
	ns0, ns1, _, _ := dropLab(t)
	out, e, code := nsdump("trace", ns0, ns1, "--count", "1", "--timeout", "300ms")
	want := "    kernel: NETFILTER_DROP at nft_do_chain in " + ns1 + " (echo request)"
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, no line %q:\n%s%s", code, want, out, e)
	}
}
