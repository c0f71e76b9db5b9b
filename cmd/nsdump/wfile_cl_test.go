package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nsdump/nsdump/capture"
)

// TestWFileOwnership: -w refuses a file of another user and leaves it as
// it was; takes over the caller's own file, emptied and made 0600; and an
// unknown -Z user fails before the file is touched.
func TestWFileOwnership(t *testing.T) {
	l := clLab(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	theirs := filepath.Join(dir, "theirs.pcapng")
	os.WriteFile(theirs, []byte("nobody's data"), 0o644)
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, e, code := nsdump("capture", l.NS0, "-w", theirs, "-c", "1"); code != 2 || !strings.Contains(e, "belongs to user") || strings.Count(e, "\n") != 1 {
		t.Errorf("-w on another user's file: exit %d %q", code, e)
	}
	if b, _ := os.ReadFile(theirs); string(b) != "nobody's data" {
		t.Errorf("another user's file was changed: %q", b)
	}

	mine := filepath.Join(dir, "mine.pcapng")
	os.WriteFile(mine, []byte(strings.Repeat("old capture ", 10000)), 0o644)
	os.Chmod(mine, 0o644)
	if _, e, code := nsdump("capture", l.NS0, "-w", mine, "-Z", "nosuchuser-cl", "-c", "1"); code != 2 || !strings.Contains(e, "nosuchuser-cl") {
		t.Errorf("-Z nosuchuser: exit %d %q", code, e)
	}
	if st, _ := os.Stat(mine); st.Size() != 120000 || st.Mode().Perm() != 0o644 {
		t.Errorf("-Z of an unknown user touched the file: %d bytes, mode %v", st.Size(), st.Mode().Perm())
	}

	p := startProc(t, nil, nil, "capture", l.NS0, "-w", mine, "icmp")
	p.waitStderr(t, "capturing on")
	exec.Command("ip", "netns", "exec", l.NS0, "ping", "-c1", "-W1", l.Addr1.Addr().String()).Run()
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, "SIGINT"); code != 0 {
		t.Fatalf("capture: exit %d %s", code, p.stderr)
	}
	st, _ := os.Stat(mine)
	raw, _ := os.ReadFile(mine)
	if st.Mode().Perm() != 0o600 || strings.Contains(string(raw), "old capture") {
		t.Errorf("the caller's own file: mode %v, old data kept: %v", st.Mode().Perm(), strings.Contains(string(raw), "old capture"))
	}
	if rows := tshark(t, mine, "icmp.type"); len(rows) != 2 {
		t.Errorf("%d ICMP frames in the rewritten file, want 2", len(rows))
	}
}

// TestSnapLenLive: capture -s 60 keeps 60 bytes of every frame and records
// 60 as the snap length, in pcapng and pcap, and tcpdump and tshark read
// the files; -s 0 keeps whole frames, recorded as 262144 as tcpdump does.
func TestSnapLenLive(t *testing.T) {
	l := clLab(t)
	for _, tt := range []struct {
		name, snap string
		want       int
	}{{"s60.pcapng", "60", 60}, {"s60.pcap", "60", 60}, {"s0.pcapng", "0", 242}} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), tt.name)
			p := startProc(t, nil, nil, "capture", l.NS0+"/"+l.Veth0, "-s", tt.snap, "-w", file, "-c", "4", "icmp")
			p.waitStderr(t, "capturing on")
			if out, err := exec.Command("ip", "netns", "exec", l.NS0, "ping", "-c2", "-i0.2", "-s", "200", l.Addr1.Addr().String()).CombinedOutput(); err != nil {
				t.Fatalf("ping: %v %s", err, out)
			}
			if code := p.wait(t, "-c 4"); code != 0 {
				t.Fatalf("capture: exit %d %s", code, p.stderr)
			}
			rows := tshark(t, file, "frame.cap_len", "frame.len")
			if len(rows) != 4 {
				t.Fatalf("tshark: %d frames, want 4: %v", len(rows), rows)
			}
			for _, r := range rows {
				if r != strings.Join([]string{strconv.Itoa(tt.want), "242"}, "\t") {
					t.Errorf("tshark frame.cap_len, frame.len = %q, want %d and 242", r, tt.want)
				}
			}
			out, err := exec.Command("tcpdump", "-r", file, "-nn").CombinedOutput()
			if err != nil || strings.Count(string(out), "ICMP echo") != 4 {
				t.Errorf("tcpdump -r: %v\n%s", err, out)
			}
			f, _ := os.Open(file)
			defer f.Close()
			rd, err := capture.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			rd.Next()
			wantSnap := uint32(60)
			if tt.snap == "0" {
				wantSnap = capture.MaxSnapLen
			}
			if pts := rd.Points(); len(pts) != 1 || pts[0].SnapLen != wantSnap {
				t.Errorf("snap length recorded: %+v, want %d", pts, wantSnap)
			}
		})
	}
}

// TestCapturePrintsLikeTcpdump: a live capture with -e -v -X shows the
// veth's own MAC address, the IP header fields and the bytes of each
// packet; -A shows a TCP probe's test message.
func TestCapturePrintsLikeTcpdump(t *testing.T) {
	l := clLab(t)
	link, err := exec.Command("ip", "-n", l.NS0, "-br", "link", "show", l.Veth0).Output()
	if err != nil {
		t.Fatal(err)
	}
	mac := strings.Fields(string(link))[2]
	p := startProc(t, nil, nil, "capture", l.NS0+"/"+l.Veth0, "-c", "2", "-e", "-v", "-X", "-nn", "icmp")
	p.waitStderr(t, "capturing on")
	exec.Command("ip", "netns", "exec", l.NS0, "ping", "-c1", "-W1", l.Addr1.Addr().String()).Run()
	if code := p.wait(t, "-c 2"); code != 0 {
		t.Fatalf("exit %d %s", code, p.stderr)
	}
	out := p.stdout.String()
	for _, want := range []string{
		l.NS0 + "/" + l.Veth0 + " Out " + mac + " > ",
		", ethertype IPv4 (0x0800), length 98: (tos 0x0, ttl 64, id ",
		"flags [DF], proto ICMP (1), length 84)\n    " + l.Addr0.Addr().String() + " > " + l.Addr1.Addr().String() + ": ICMP echo request",
		"\n\t0x0000:  4500 0054 ",
		" > " + mac + ", ethertype IPv4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("capture -e -v -X lacks %q:\n%s", want, out)
		}
	}
	p = startProc(t, nil, nil, "capture", l.NS0+"/"+l.Veth0, "-A", "tcp", "port", "7099")
	p.waitStderr(t, "capturing on")
	if _, e, code := nsdump("trace", l.NS0, l.NS1, "--count", "1", "--port", "7099"); code != 0 {
		t.Fatalf("trace: %s", e)
	}
	until(t, "the test message in the ASCII", func() bool { return strings.Contains(p.stdout.String(), "nsdump trace "+l.NS0+"->"+l.NS1) })
	p.cmd.Process.Signal(syscall.SIGINT)
	p.wait(t, "SIGINT")
}
