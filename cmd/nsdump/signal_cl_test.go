package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// endBound is how long a test waits for a process to end before calling it
// hung: a failure bound on a loaded machine, not the timing asked of
// nsdump (a second).
const endBound = 20 * time.Second

// clLab is a lab of this file's tests, with routes.
func clLab(t *testing.T) topology.Lab { return labtest.New(t, "cl", true) }

// proc is nsdump running as a process, its stderr readable while it runs.
type proc struct {
	cmd    *exec.Cmd
	stdout *lockedWriter
	stderr *lockedWriter
	done   chan struct{}
	err    error
}

// startProc runs the binary with args; stdin and stdout are the process's
// own when not nil.
func startProc(t *testing.T, stdin io.Reader, stdout *os.File, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(buildNsdump(t), args...), stdout: &lockedWriter{buf: &bytes.Buffer{}}, stderr: &lockedWriter{buf: &bytes.Buffer{}}, done: make(chan struct{})}
	p.cmd.Stdin, p.cmd.Stderr = stdin, p.stderr
	if stdout != nil {
		p.cmd.Stdout = stdout
	} else {
		p.cmd.Stdout = p.stdout
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to end, failing the test past endBound, and
// returns its exit code.
func (p *proc) wait(t *testing.T, after string) int {
	t.Helper()
	start := time.Now()
	select {
	case <-p.done:
		// The goal is a second; a loaded machine may take longer, so the
		// figure is logged, not asserted.
		t.Logf("ended %v after %s", time.Since(start).Round(time.Millisecond), after)
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(endBound):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("still running %v after %s; stderr: %s", endBound, after, p.stderr)
		return -1
	}
}

// until polls cond until it holds, failing the test past endBound.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(endBound); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// blockedIn reports whether a thread of pid sleeps in a kernel function
// whose name contains one of names (/proc/PID/task/*/wchan).
func blockedIn(pid int, names ...string) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, task := range tasks {
		b, _ := os.ReadFile(task)
		for _, n := range names {
			if strings.Contains(string(b), n) {
				return true
			}
		}
	}
	return false
}

func (p *proc) waitStderr(t *testing.T, s string) {
	t.Helper()
	until(t, fmt.Sprintf("%q on stderr", s), func() bool {
		select {
		case <-p.done:
			t.Fatalf("ended before saying %q: %v %s", s, p.err, p.stderr)
		default:
		}
		return strings.Contains(p.stderr.String(), s)
	})
}

var signals = []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}

// TestSignalWhileFIFOHasNoReader: capture -w FIFO waits for a reader in
// open(2); a signal ends it with the FIFO named.
func TestSignalWhileFIFOHasNoReader(t *testing.T) {
	l := clLab(t)
	for _, sig := range signals {
		t.Run(sig.String(), func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "out.pcapng")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			p := startProc(t, nil, nil, "capture", l.NS0, "-w", fifo)
			until(t, "the capture to wait for the FIFO's reader", func() bool { return blockedIn(p.cmd.Process.Pid, "wait_for_partner", "fifo_open") })
			p.cmd.Process.Signal(sig)
			if code := p.wait(t, sig.String()); code != 2 || !strings.Contains(p.stderr.String(), "interrupted while waiting for a reader") || !strings.Contains(p.stderr.String(), fifo) {
				t.Fatalf("exit %d, stderr %q", code, p.stderr)
			}
		})
	}
}

// TestSignalWhileOutputStalled: the reader of capture's output stops
// reading (a pipe nobody drains, as `nsdump capture ... | less` left
// alone); the capture blocks in write(2), and a signal still ends it,
// saying the last packets were not written.
func TestSignalWhileOutputStalled(t *testing.T) {
	l := clLab(t)
	for _, mode := range [][]string{{"-w", "-"}, {"-X"}} {
		for _, sig := range signals {
			t.Run(strings.Join(mode, "")+" "+sig.String(), func(t *testing.T) {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				p := startProc(t, nil, w, append([]string{"capture", l.NS0}, append(mode, "icmp")...)...)
				w.Close()
				p.waitStderr(t, "capturing on")
				ping := exec.Command("ip", "netns", "exec", l.NS0, "ping", "-f", "-s", "1400", "-c", "100000", l.Addr1.Addr().String())
				if err := ping.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { ping.Process.Kill(); ping.Wait() }()
				until(t, "the capture to block writing to the full pipe", func() bool { return blockedIn(p.cmd.Process.Pid, "pipe_write") })
				p.cmd.Process.Signal(sig)
				if code := p.wait(t, sig.String()); code != 2 || !strings.Contains(p.stderr.String(), "stopped being read") {
					t.Fatalf("exit %d, stderr %q", code, p.stderr)
				}
			})
		}
	}
}

// TestSignalWhileReadStalls: read waits on a FIFO nobody opened, a FIFO
// whose writer sends nothing, standard input from such a pipe; a signal
// ends each.
func TestSignalWhileReadStalls(t *testing.T) {
	for _, sig := range signals {
		t.Run("fifo without writer "+sig.String(), func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "in.pcapng")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			p := startProc(t, nil, nil, "read", fifo)
			until(t, "read to wait for the FIFO's writer", func() bool { return blockedIn(p.cmd.Process.Pid, "wait_for_partner", "fifo_open") })
			p.cmd.Process.Signal(sig)
			if code := p.wait(t, sig.String()); code != 2 || !strings.Contains(p.stderr.String(), "interrupted") {
				t.Fatalf("exit %d, stderr %q", code, p.stderr)
			}
		})
		t.Run("silent fifo "+sig.String(), func(t *testing.T) {
			fifo := filepath.Join(t.TempDir(), "in.pcapng")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			p := startProc(t, nil, nil, "read", fifo)
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // meets read's open
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.Write(pcapngStart(t)) // a section header, then nothing
			// Go polls a FIFO rather than blocking a thread in read(2):
			// read waits once it has taken everything in the pipe.
			until(t, "read to take the header and wait for more", func() bool {
				n, err := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ)
				return err == nil && n == 0
			})
			p.cmd.Process.Signal(sig)
			if code := p.wait(t, sig.String()); code != 2 || !strings.Contains(p.stderr.String(), "interrupted") {
				t.Fatalf("exit %d, stderr %q", code, p.stderr)
			}
		})
		t.Run("silent stdin "+sig.String(), func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			p := startProc(t, r, nil, "read", "-")
			r.Close()
			until(t, "read to wait for standard input", func() bool { return blockedIn(p.cmd.Process.Pid, "pipe_read") })
			p.cmd.Process.Signal(sig)
			if code := p.wait(t, sig.String()); code != 2 || !strings.Contains(p.stderr.String(), "interrupted") {
				t.Fatalf("exit %d, stderr %q", code, p.stderr)
			}
		})
	}
}

// pcapngStart is a section header and one interface block.
func pcapngStart(t *testing.T) []byte {
	var b bytes.Buffer
	w, err := capture.NewNgWriter(&b, []capture.Point{{Name: "a/b", LinkType: capture.LinkEthernet}}, "")
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return b.Bytes()
}

// TestCaptureEndsWhenPointGoes: teardown removes a captured namespace (the
// capture's socket keeps it alive, so no socket error comes), or an
// interface is deleted: the capture ends, exit 2, naming the capture point.
func TestCaptureEndsWhenPointGoes(t *testing.T) {
	t.Run("teardown", func(t *testing.T) {
		l := clLab(t)
		p := startProc(t, nil, nil, "capture", l.NS0, l.NS1)
		p.waitStderr(t, "capturing on")
		if _, e, code := nsdump(append([]string{"teardown"}, labtest.Flags(l)...)...); code != 0 {
			t.Fatalf("teardown: %s", e)
		}
		code := p.wait(t, "teardown")
		if e := p.stderr.String(); code != 2 || !strings.Contains(e, "namespace") || !strings.Contains(e, "was removed") ||
			!strings.Contains(e, l.NS0+"/"+l.Veth0) && !strings.Contains(e, l.NS1+"/"+l.Veth1) {
			t.Fatalf("exit %d, stderr %q", code, e)
		}
	})
	t.Run("interface deleted", func(t *testing.T) {
		l := clLab(t)
		dummy := "clx" + strconv.Itoa(os.Getpid()%100000)
		for _, c := range [][]string{{"link", "add", dummy, "type", "veth", "peer", "name", dummy + "p"}, {"link", "set", dummy, "up"}, {"link", "set", dummy + "p", "up"}} {
			if out, err := exec.Command("ip", append([]string{"-n", l.NS0}, c...)...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v %s", c, err, out)
			}
		}
		p := startProc(t, nil, nil, "capture", l.NS0+"/"+dummy)
		p.waitStderr(t, "capturing on")
		if out, err := exec.Command("ip", "-n", l.NS0, "link", "del", dummy).CombinedOutput(); err != nil {
			t.Fatalf("ip link del: %v %s", err, out)
		}
		if code := p.wait(t, "ip link del"); code != 2 || !strings.Contains(p.stderr.String(), l.NS0+"/"+dummy) {
			t.Fatalf("exit %d, stderr %q", code, p.stderr)
		}
	})
}

// TestInterruptedTraceWritesFile: a trace interrupted while it waits for
// answers a firewall drops still writes its -w file with the packets so
// far, and says so.
func TestInterruptedTraceWritesFile(t *testing.T) {
	l := clLab(t)
	for _, c := range [][]string{{"add", "table", "inet", "nsdcl"},
		{"add", "chain", "inet", "nsdcl", "in", "{ type filter hook input priority 0; }"},
		{"add", "rule", "inet", "nsdcl", "in", "ip", "saddr", l.Addr0.Addr().String(), "counter", "drop"}} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", l.NS1, "nft"}, c...)...).CombinedOutput(); err != nil {
			t.Fatalf("nft: %v %s", err, out)
		}
	}
	file := filepath.Join(t.TempDir(), "t.pcapng")
	p := startProc(t, nil, nil, "trace", l.NS0, l.NS1, "--timeout", "30s", "--port", "7098", "-w", file)
	until(t, "the firewall to drop a probe", func() bool {
		out, _ := exec.Command("ip", "netns", "exec", l.NS1, "nft", "list", "chain", "inet", "nsdcl", "in").Output()
		return strings.Contains(string(out), "counter packets") && !strings.Contains(string(out), "counter packets 0 ")
	})
	p.cmd.Process.Signal(syscall.SIGINT)
	code := p.wait(t, "SIGINT")
	e := p.stderr.String()
	var n int
	if i := strings.Index(e, "wrote the "); i < 0 || code != 2 || !strings.Contains(e, "without verdicts") {
		t.Fatalf("exit %d, stderr %q", code, e)
	} else {
		fmt.Sscanf(e[i:], "wrote the %d packets", &n)
	}
	rows := tshark(t, file, "frame.number")
	requests, _ := exec.Command("tshark", "-r", file, "-Y", "icmp.type == 8").Output()
	if n < 1 || len(rows) != n || len(requests) == 0 {
		t.Fatalf("stderr says %d packets; tshark reads %d rows %v, want the same and an echo request", n, len(rows), rows)
	}
}

// TestInterruptedDemoWritesFile: the demo interrupted during its first
// trace writes its -w file, says so, and removes its lab.
func TestInterruptedDemoWritesFile(t *testing.T) {
	l := labtest.Names(t, "cl")
	file := filepath.Join(t.TempDir(), "d.pcapng")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := startProc(t, nil, w, append([]string{"demo", "-w", file}, labtest.Flags(l)...)...)
	w.Close()
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	until(t, "the demo's first trace", func() bool {
		n, _ := r.Read(buf)
		seen.Write(buf[:n])
		return n == 0 || strings.Contains(seen.String(), "$ nsdump trace")
	})
	go io.Copy(io.Discard, r)
	p.cmd.Process.Signal(syscall.SIGINT)
	code := p.wait(t, "SIGINT")
	if e := p.stderr.String(); code != 2 || !strings.Contains(e, "wrote the ") || !strings.Contains(e, file) {
		t.Fatalf("exit %d, stderr %q", code, e)
	}
	if _, err := exec.Command("tshark", "-r", file).Output(); err != nil {
		t.Fatalf("tshark -r of the interrupted demo's file: %v", err)
	}
	if topology.NamespaceExists(l.NS0) || topology.NamespaceExists(l.NS1) {
		t.Fatal("the interrupted demo left its lab behind")
	}
}

// TestKilledCaptureLeavesWholeBlocks: kill -9 during a busy capture loses
// at most the last write: the file is whole blocks up to it, and readers
// take every packet before the end. (The kernel may stop a write to a
// regular file at a page boundary when SIGKILL comes, so the last write
// itself can be cut; each write holds whole blocks, so nothing before it
// is.)
func TestKilledCaptureLeavesWholeBlocks(t *testing.T) {
	l := clLab(t)
	for _, name := range []string{"k.pcapng", "k.pcap"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), name)
			p := startProc(t, nil, nil, "capture", l.NS0+"/"+l.Veth0, "-w", file)
			p.waitStderr(t, "capturing on")
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			ping := exec.CommandContext(ctx, "ip", "netns", "exec", l.NS0, "ping", "-f", "-s", "1000", l.Addr1.Addr().String())
			if err := ping.Start(); err != nil {
				t.Fatal(err)
			}
			defer ping.Wait()
			until(t, "a few hundred KiB in the file", func() bool {
				st, err := os.Stat(file)
				return err == nil && st.Size() > 600<<10
			})
			p.cmd.Process.Kill()
			p.wait(t, "SIGKILL")
			stop()
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var whole, packets int
			if strings.HasSuffix(name, ".pcapng") {
				whole, packets = ngWhole(raw)
			} else {
				whole, packets = pcapWhole(raw)
			}
			tail := len(raw) - whole
			t.Logf("%d bytes, %d packets in whole blocks, %d bytes after the last whole block", len(raw), packets, tail)
			if tail > capture.MaxSnapLen+(256<<10) {
				t.Fatalf("%d bytes after the last whole block: more than one write was cut", tail)
			}
			out, e, code := nsdump("read", file)
			var got int
			fmt.Sscanf(out, "%d packets", &got)
			if code != 0 || got != packets || (tail > 0) != strings.Contains(e, "cut short") {
				t.Fatalf("nsdump read: exit %d, %d packets (want %d), stderr %q", code, got, packets, e)
			}
			for _, reader := range [][]string{{"tcpdump", "-r", file, "-nn"}, {"tshark", "-r", file}} {
				out, err := exec.Command(reader[0], reader[1:]...).CombinedOutput()
				if tail == 0 && err != nil || strings.Count(string(out), "ICMP") < packets/2 {
					t.Errorf("%s: %v, %d ICMP lines for %d packets: %s", reader[0], err, strings.Count(string(out), "ICMP"), packets, lastLine(out))
				}
			}
		})
	}
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	return s[strings.LastIndex(s, "\n")+1:]
}

// ngWhole is how many bytes of a pcapng file are whole blocks from its
// start, and how many Enhanced Packet Blocks they hold.
func ngWhole(b []byte) (n, packets int) {
	for len(b)-n >= 12 {
		typ := binary.LittleEndian.Uint32(b[n:])
		total := int(binary.LittleEndian.Uint32(b[n+4:]))
		if total < 12 || total > len(b)-n {
			break
		}
		if typ == 6 {
			packets++
		}
		n += total
	}
	return n, packets
}

// pcapWhole is how many bytes of a little-endian pcap file are the header
// and whole records, and how many records.
func pcapWhole(b []byte) (n, packets int) {
	if len(b) < 24 {
		return 0, 0
	}
	for n = 24; len(b)-n >= 16; packets++ {
		caplen := int(binary.LittleEndian.Uint32(b[n+8:]))
		if 16+caplen > len(b)-n {
			break
		}
		n += 16 + caplen
	}
	return n, packets
}

// TestSignalWhileReadOutputStalls: read --packets writing to a pipe nobody
// drains blocks in write(2); a signal ends it, saying so.
func TestSignalWhileReadOutputStalls(t *testing.T) {
	golden, err := filepath.Abs("../../testdata/pcaps/healthy.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"read", "--packets", "-XX"}
	for i := 0; i < 30; i++ {
		args = append(args, golden) // several files read as one: far more than a pipe holds
	}
	for _, sig := range signals {
		t.Run(sig.String(), func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			p := startProc(t, nil, w, args...)
			w.Close()
			until(t, "read to block writing to the full pipe", func() bool { return blockedIn(p.cmd.Process.Pid, "pipe_write") })
			p.cmd.Process.Signal(sig)
			if code := p.wait(t, sig.String()); code != 2 || !strings.Contains(p.stderr.String(), "stopped being read") {
				t.Fatalf("exit %d, stderr %q", code, p.stderr)
			}
		})
	}
}

// TestSignalWhileTraceFIFOHasNoReader: trace -w FIFO, done probing, waits
// for the FIFO's reader; a signal ends it with the FIFO named.
func TestSignalWhileTraceFIFOHasNoReader(t *testing.T) {
	l := clLab(t)
	fifo := filepath.Join(t.TempDir(), "t.pcapng")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, nil, nil, "trace", l.NS0, l.NS1, "--count", "1", "--port", "7095", "-w", fifo)
	until(t, "trace to wait for the FIFO's reader", func() bool { return blockedIn(p.cmd.Process.Pid, "wait_for_partner", "fifo_open") })
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, "SIGTERM"); code != 2 || !strings.Contains(p.stderr.String(), "waiting for a reader") || !strings.Contains(p.stderr.String(), fifo) {
		t.Fatalf("exit %d, stderr %q", code, p.stderr)
	}
}
