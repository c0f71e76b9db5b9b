package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/internal/labtest"
)

// dropLab is a lab with routes whose second namespace drops echo requests
// with an nftables rule.
func dropLab(t *testing.T) (ns0, ns1, v0, v1, a1 string) {
	t.Helper()
	l := labtest.Names(t, "dl")
	if _, e, code := nsdump(append([]string{"setup", "--routes"}, labtest.Flags(l)...)...); code != 0 {
		t.Fatalf("setup: %s", e)
	}
	rule := "add table inet drt; add chain inet drt in { type filter hook input priority 0; policy accept; }; add rule inet drt in icmp type echo-request drop"
	if out, err := exec.Command("ip", "netns", "exec", l.NS1, "nft", rule).CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	return l.NS0, l.NS1, l.Veth0, l.Veth1, l.Addr1.Addr().String()
}

// TestCaptureDropsToPcapng: the echo request B's firewall drops is in the
// file on B/drops with the kernel's reason as its comment, as stock tshark
// shows it.
func TestCaptureDropsToPcapng(t *testing.T) {
	ns0, ns1, v0, v1, a1 := dropLab(t)
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
	// tcpdump reads the whole file (drops are Ethernet frames, as the
	// interfaces beside them): every packet capture and the monitor wrote.
	captured, recorded := -1, -1
	for _, line := range strings.Split(stderr.String(), "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "%d packets captured", &n); err == nil {
			captured = n
		}
		if _, err := fmt.Sscanf(line, "%d kernel drops recorded", &n); err == nil {
			recorded = n
		}
	}
	if n := tcpdumpCount(t, file); n != captured+recorded || recorded < 2 {
		t.Errorf("tcpdump lists %d packets; nsdump wrote %d captured and %d kernel drops", n, captured, recorded)
	}
	if strings.Contains(stderr.String(), "mixing link types") {
		t.Errorf("a warning about mixed link types for a capture with drops:\n%s", stderr)
	}
	// The dropped echo requests carry their own Ethernet header: from A's
	// veth.
	mac := strings.TrimSpace(sh(t, "ip", "netns", "exec", ns0, "cat", "/sys/class/net/"+v0+"/address"))
	for _, line := range tshark(t, file, "frame.interface_name", "frame.comment", "eth.src", "eth.dst") {
		if strings.HasPrefix(line, ns1+"/drops\tdrop: NETFILTER_DROP") && !strings.Contains(line, "\t"+mac+"\t") {
			t.Errorf("a dropped echo request without the frame's header from %s: %q", mac, line)
		}
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
	ns0, ns1, _, v1, a1 := dropLab(t)
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
	ns0, ns1, _, _, _ := dropLab(t)
	out, e, code := nsdump("trace", ns0, ns1, "--count", "1", "--timeout", "300ms")
	want := "    kernel: NETFILTER_DROP at nft_do_chain in " + ns1 + " (echo request)"
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, no line %q:\n%s%s", code, want, out, e)
	}
}

// TestTraceDropsFile: trace -w of a lab whose B drops echo requests
// writes a file tcpdump reads whole (every packet nsdump wrote), whose
// drops keep their comment in tshark and join their exchange in read.
func TestTraceDropsFile(t *testing.T) {
	ns0, ns1, _, v1, _ := dropLab(t)
	file := filepath.Join(t.TempDir(), "trace.pcapng")
	if out, e, code := nsdump("trace", ns0, ns1, "--count", "1", "--timeout", "300ms", "-w", file); code != 1 || strings.Contains(e, "mixing link types") {
		t.Fatalf("trace: exit %d, want 1 without a warning about link types:\n%s%s", code, out, e)
	}
	written, _ := fileBlocks(t, file)
	if n := tcpdumpCount(t, file); n != written {
		t.Errorf("tcpdump lists %d packets; nsdump wrote %d", n, written)
	}
	comment := "drop: NETFILTER_DROP at nft_do_chain (" + v1 + ")"
	found := 0
	for _, line := range tshark(t, file, "frame.interface_name", "frame.comment") {
		if strings.HasPrefix(line, ns1+"/drops\t"+comment) {
			found++
		}
	}
	if found == 0 {
		t.Errorf("tshark shows no drop on %s/drops with the comment %q", ns1, comment)
	}
	note := "the echo request was dropped in " + ns1 + ": NETFILTER_DROP at nft_do_chain (" + v1 + ")"
	if out, e, _ := nsdump("read", file); !strings.Contains(out, note) {
		t.Errorf("nsdump read does not say %q:\n%s%s", note, out, e)
	}
}

// tcpdumpCount runs tcpdump -r on a file, fails the test unless it reads
// it cleanly (exit 0, nothing on stderr but where it reads from, an
// Ethernet file), and returns how many packets it listed.
func tcpdumpCount(t *testing.T, file string) int {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("tcpdump", "-nn", "-r", file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || toolStderr(stderr.String(), file) != "" {
		t.Fatalf("tcpdump -r %s: %v, stderr %q", file, err, stderr.String())
	}
	return strings.Count(stdout.String(), "\n")
}

// sh runs a command and returns its output.
func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestReadSLLDrops: files written before drops became Ethernet frames hold
// them as Linux cooked captures (testdata/traces/sll-drops.pcapng, a trace
// -w of a lab whose B drops what A sends, kept as nsdump wrote it then):
// read still joins each drop to its exchange.
func TestReadSLLDrops(t *testing.T) {
	file := filepath.Join("..", "..", "testdata", "traces", "sll-drops.pcapng")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	sll := 0
	for _, p := range r.Points() {
		if strings.HasSuffix(p.Name, "/drops") && p.LinkType == capture.LinkSLL {
			sll++
		}
	}
	if sll != 2 {
		t.Fatalf("%d drop points of link type LINUX_SLL in %s, want 2: the file is no longer the old kind", sll, file)
	}
	out, e, code := nsdump("read", file)
	if code != 0 || e != "" {
		t.Fatalf("read: exit %d, %s", code, e)
	}
	for _, want := range []string{
		"icmp-echo  192.168.50.1 > 192.168.60.1 id 42704 seq 1: unanswered; the echo request was dropped in tdata-b: NETFILTER_DROP at nft_do_chain (tdb0)",
		"tcp        192.168.50.1:37441 > 192.168.60.1:7096: unanswered; the SYN was dropped in tdata-b: NETFILTER_DROP at nft_do_chain (tdb0)",
		"tcp        192.168.60.1:50875 > 192.168.50.1:7096: refused; the SYN was dropped in tdata-a: NO_SOCKET at tcp_v4_rcv (tda0)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("read does not say %q:\n%s", want, out)
		}
	}
}
