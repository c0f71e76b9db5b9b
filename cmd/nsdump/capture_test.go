package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
)

// testLab builds, through nsdump setup --routes itself, a lab of the
// test's own, and returns its naming flags, names and addresses.
func testLab(t *testing.T) (flags []string, ns0, ns1, v0, v1, a0, a1 string) {
	t.Helper()
	l := labtest.Names(t, "cm")
	flags = labtest.Flags(l)
	if _, e, code := nsdump(append([]string{"setup", "--routes"}, flags...)...); code != 0 {
		t.Fatalf("setup: %s", e)
	}
	return flags, l.NS0, l.NS1, l.Veth0, l.Veth1, l.Addr0.Addr().String(), l.Addr1.Addr().String()
}

// startCapture runs the binary and waits until it says it is capturing.
func startCapture(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(buildNsdump(t), append([]string{"capture"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &lockedWriter{buf: &stdout}, &lockedWriter{buf: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, "the capture to start", func() bool {
		return strings.Contains(cmd.Stderr.(*lockedWriter).String(), "capturing on")
	})
	return cmd, &stdout, &stderr
}

// ends waits for a capture given -c N to end by itself, which it does once
// it has N packets. The bound only limits a failure on a loaded machine.
func ends(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the capture is still running 30s after the traffic: it missed packets")
		return nil
	}
}

func tshark(t *testing.T, file string, fields ...string) []string {
	t.Helper()
	args := []string{"-r", file, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", file, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestCaptureBothEndsToPcapng(t *testing.T) {
	_, ns0, ns1, v0, v1, _, a1 := testLab(t)
	file := filepath.Join(t.TempDir(), "both.pcapng")
	// The exchanges below make 28 frames of small ICMP and TCP SYNs (ping: 3
	// echoes, trace: 1 each way, 2 TCP handshakes; each frame seen at both
	// ends): the capture ends by itself once it has them all. trace's mtu
	// probe (echoes as large as the MTU) is left out by `less 200`, which
	// binds to icmp alone: and/or are equal and left-associative.
	cmd, _, stderr := startCapture(t, ns0, ns1+"/"+v1, "-w", file, "-c", "28", "icmp and less 200 or tcp[tcpflags] & tcp-syn != 0")
	if out, err := exec.Command("ip", "netns", "exec", ns0, "ping", "-c3", "-i0.2", "-W1", a1).CombinedOutput(); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	// TCP with a message both ways: trace listens in each namespace and connects from the other.
	if _, e, code := nsdump("trace", ns0, ns1, "--count", "1", "--port", "7096", "--timeout", "5s"); code != 0 {
		t.Fatalf("trace for the TCP exchange: exit %d %s", code, e)
	}
	if err := ends(t, cmd); err != nil {
		t.Fatalf("capture -c 28: %v\n%s", err, stderr)
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("capture file: %v %v, want mode 0600", info, err)
	}
	rows := tshark(t, file, "frame.interface_name", "frame.packet_flags_direction", "icmp.type")
	counts := map[string]int{}
	for _, r := range rows {
		counts[r]++
	}
	// The ping's 3 requests and 3 replies (ids other than trace's are not told
	// apart here: trace adds one request and reply each way, so 4 each), each
	// seen leaving one end and entering the other.
	for _, want := range []string{
		ns0 + "/" + v0 + "\t0x00000002\t8", ns1 + "/" + v1 + "\t0x00000001\t8",
		ns1 + "/" + v1 + "\t0x00000002\t0", ns0 + "/" + v0 + "\t0x00000001\t0",
	} {
		if counts[want] != 4 {
			t.Errorf("%d frames of %q, want 4; tshark rows:\n%s", counts[want], want, strings.Join(rows, "\n"))
		}
	}
	// Both TCP connections, SYN to FIN, at both ends, with the test message.
	syns := map[string]int{}
	for _, r := range tshark(t, file, "frame.interface_name", "frame.packet_flags_direction", "tcp.flags.syn", "tcp.flags.ack", "tcp.len") {
		f := strings.Split(r, "\t")
		if len(f) == 5 && f[2] == "True" || len(f) == 5 && f[2] == "1" {
			syns[f[0]+" "+f[1]+" ack="+f[3]]++
		}
	}
	for _, want := range []string{ns0 + "/" + v0 + " 0x00000002 ack=", ns1 + "/" + v1 + " 0x00000001 ack="} {
		n := 0
		for k, c := range syns {
			if strings.HasPrefix(k, want) {
				n += c
			}
		}
		if n < 2 { // the SYN out of one end and the SYN-ACK of the other connection
			t.Errorf("TCP handshake frames at %q: %d, want 2 or more (%v)", want, n, syns)
		}
	}
	summary := stderr.String()
	var captured, received, dropped int
	if _, err := fmt.Sscanf(summary[strings.LastIndex(strings.TrimSpace(summary), "\n")+1:],
		"%d packets captured, %d received by filter, %d dropped by kernel", &captured, &received, &dropped); err != nil {
		t.Fatalf("no statistics line in %q: %v", summary, err)
	}
	if captured != 28 || captured != len(rows) || dropped != 0 {
		t.Errorf("stderr says %d captured, %d dropped; the file holds %d", captured, dropped, len(rows))
	}
}

func TestCaptureStreamsToTshark(t *testing.T) {
	_, ns0, _, _, _, _, a1 := testLab(t)
	file := filepath.Join(t.TempDir(), "stream.pcapng")
	out, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// Only ICMP: a fresh veth also carries IPv6 neighbour discovery and MLD.
	cmd := exec.Command(buildNsdump(t), "capture", ns0, "-w", "-", "-c", "4", "icmp")
	cmd.Stdout = out
	var stderr bytes.Buffer
	cmd.Stderr = &lockedWriter{buf: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, "the capture to start", func() bool {
		return strings.Contains(cmd.Stderr.(*lockedWriter).String(), "capturing on")
	})
	exec.Command("ip", "netns", "exec", ns0, "ping", "-c3", "-i0.2", "-W1", a1).Run()
	if err := ends(t, cmd); err != nil {
		t.Fatalf("capture -c 4: %v\n%s", err, stderr.String())
	}
	if rows := tshark(t, file, "frame.number"); len(rows) != 4 {
		t.Fatalf("tshark read %d frames from the stream, want 4", len(rows))
	}
}

func TestCaptureLinesAndBadTargets(t *testing.T) {
	_, ns0, _, v0, _, a0, a1 := testLab(t)
	// ARP request and reply, echo request and reply; not the IPv6 neighbour
	// discovery and MLD a fresh veth also carries.
	cmd, stdout, _ := startCapture(t, ns0, "-c", "4", "arp", "or", "icmp")
	exec.Command("ip", "netns", "exec", ns0, "ping", "-c1", "-W1", a1).Run()
	if err := ends(t, cmd); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	want := fmt.Sprintf("%s/%s Out IP %s > %s: ICMP echo request", ns0, v0, a0, a1)
	if !strings.Contains(stdout.String(), want) || len(lines) != 4 {
		t.Fatalf("capture lines:\n%s\nwant 4 lines, one containing %q", stdout, want)
	}
	if _, e, code := nsdump("capture", ns0, "nsdk-misspelt"); code != 2 || !strings.Contains(e, `namespace "nsdk-misspelt"`) || !strings.Contains(e, "ip netns list") {
		t.Errorf("capture NS MISSPELT: exit %d %q, want the missing namespace named", code, e)
	}
	for _, args := range [][]string{{ns0 + "/nosuch0"}, {"nsdk-never-made"}, {ns0 + "/a b"}, {ns0, "-s", "-1"}} {
		if _, e, code := nsdump(append([]string{"capture"}, args...)...); code != 2 || strings.Count(e, "\n") != 1 {
			t.Errorf("capture %v: exit %d, %q; want exit 2 and one line", args, code, e)
		}
	}
}

// lockedWriter lets the test read stderr while the process writes it.
type lockedWriter struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestCaptureFilter: with "icmp", the ARP and IPv6 housekeeping of a fresh
// lab is never printed; SIGINT ends the capture with its statistics.
func TestCaptureFilter(t *testing.T) {
	_, ns0, ns1, _, _, _, a1 := testLab(t)
	cmd, stdout, stderr := startCapture(t, ns0, ns1, "icmp")
	if out, err := exec.Command("ip", "netns", "exec", ns0, "ping", "-c2", "-i0.2", "-W1", a1).CombinedOutput(); err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	// 2 requests and 2 replies at both ends, printed once captured.
	waitFor(t, "8 lines", func() bool { return strings.Count(cmd.Stdout.(*lockedWriter).String(), "\n") >= 8 })
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr)
	}
	rows := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(rows) != 8 {
		t.Errorf("%d lines, want 8 (2 requests and 2 replies at both ends):\n%s", len(rows), stdout)
	}
	for _, r := range rows {
		if !strings.Contains(r, ": ICMP echo ") {
			t.Errorf("a frame that is not ICMP passed the filter: %s", r)
		}
	}
	if !strings.Contains(stderr.String(), "8 packets captured") {
		t.Errorf("statistics after SIGINT: %q, want 8 packets captured", stderr)
	}
	if _, e, code := nsdump("capture", ns0, "port", "http"); code != 2 || !strings.Contains(e, "filter") {
		t.Errorf("a bad filter: exit %d, %q", code, e)
	}
}

// TestCaptureDropsPrivileges: with -Z nobody every thread runs as nobody
// once capturing, and the file written still holds the packets.
func TestCaptureDropsPrivileges(t *testing.T) {
	_, ns0, _, _, _, _, a1 := testLab(t)
	file := filepath.Join(t.TempDir(), "z.pcapng")
	cmd, _, stderr := startCapture(t, ns0, "-Z", "nobody", "-w", file, "-c", "4", "icmp")
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of the capture: %v", err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // a thread that just ended
		}
		for _, line := range strings.Split(string(b), "\n") {
			if (strings.HasPrefix(line, "Uid:") || strings.HasPrefix(line, "Gid:")) && strings.Fields(line)[1] != "65534" {
				t.Errorf("%s: %s, want 65534", task, line)
			}
			if strings.HasPrefix(line, "CapEff:") && strings.TrimSpace(line[7:]) != "0000000000000000" {
				t.Errorf("%s: %s, want no capabilities", task, line)
			}
		}
	}
	exec.Command("ip", "netns", "exec", ns0, "ping", "-c2", "-i0.2", "-W1", a1).Run()
	if err := ends(t, cmd); err != nil { // -c 4: 2 requests, 2 replies
		t.Fatalf("capture -Z: %v\n%s", err, stderr)
	}
	if rows := tshark(t, file, "icmp.type"); len(rows) != 4 {
		t.Errorf("%d ICMP frames in the file written as nobody, want 4", len(rows))
	}
	if _, e, code := nsdump("capture", ns0, "-Z", "no-such-user-here"); code != 2 || !strings.Contains(e, "no-such-user-here") {
		t.Errorf("-Z of an unknown user: exit %d %q", code, e)
	}
}

// TestCaptureRefusesSymlink: -w never writes through a symlink.
func TestCaptureRefusesSymlink(t *testing.T) {
	_, ns0, _, _, _, _, _ := testLab(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	os.WriteFile(target, []byte("keep me"), 0o644)
	link := filepath.Join(dir, "out.pcapng")
	os.Symlink(target, link)
	_, e, code := nsdump("capture", ns0, "-w", link, "-c", "1")
	if code != 2 || strings.Count(e, "\n") != 1 {
		t.Errorf("capture -w SYMLINK: exit %d %q, want exit 2 in one line", code, e)
	}
	if !strings.Contains(e, "is a symbolic link") || !strings.Contains(e, "remove the link") || strings.Contains(e, "too many levels") {
		t.Errorf("capture -w SYMLINK says %q: not what the link is and what to do", e)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me" {
		t.Errorf("the symlink's target was overwritten: %q", b)
	}
}
