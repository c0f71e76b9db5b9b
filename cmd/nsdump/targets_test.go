package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
)

// TestTraceUnnamedNamespace: a container's namespace (unshare --net, held
// by a sleeping process, no name) joined by a veth to a named one, traced
// by pid:N and by /proc/N/ns/net, and listed by ls --all with its process.
func TestTraceUnnamedNamespace(t *testing.T) {
	j := labtest.NewJoined(t, "ns")
	u := j.Unnamed
	for _, target := range []string{u.Spec(), u.Path()} {
		out, errOut, code := nsdump("trace", j.Named, target, "--json", "--count", "2", "--timeout", "5s") // healthy: ends at the last answer
		if code != 0 {
			t.Fatalf("trace %s %s: exit %d\n%s%s", j.Named, target, code, out, errOut)
		}
		var res struct {
			OK   bool
			To   struct{ Namespace, Address string }
			From struct{ Namespace, Address string }
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		if !res.OK || res.To.Namespace != u.Spec() || res.To.Address != j.AddrU.Addr().String() || res.From.Namespace != j.Named {
			t.Errorf("trace %s %s: %+v, want ok to %s at %s", j.Named, target, res, u.Spec(), j.AddrU.Addr())
		}
	}
	out, errOut, code := nsdump("route", u.Path(), j.AddrNamed.Addr().String())
	if want := ip(t, "nsenter", "-t", strconv.Itoa(u.PID), "-n", "ip", "route", "get", j.AddrNamed.Addr().String()); code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("route %s: exit %d %q%s, want %q", u.Path(), code, out, errOut, want)
	}

	out, errOut, code = nsdump("ls", "--all", "--json")
	if code != 0 {
		t.Fatalf("ls --all: exit %d %s", code, errOut)
	}
	var all struct {
		Namespaces []struct {
			Name      string
			Inode     uint64
			Named     bool
			Processes []struct {
				PID  int
				Comm string
			}
			Interfaces []struct {
				Name string
				Peer *struct{ Namespace, Interface string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ns := range all.Namespaces {
		if ns.Name != u.Spec() {
			continue
		}
		found = true
		if ns.Named || ns.Inode == 0 || len(ns.Processes) == 0 || ns.Processes[0].PID != u.PID || ns.Processes[0].Comm != "sleep" {
			t.Errorf("ls --all: %s is %+v, want unnamed, held by %d sleep", u.Spec(), ns, u.PID)
		}
		for _, i := range ns.Interfaces {
			if i.Name == j.VethU && (i.Peer == nil || i.Peer.Namespace != j.Named || i.Peer.Interface != j.VethNamed) {
				t.Errorf("ls --all: peer of %s is %+v, want %s/%s", j.VethU, i.Peer, j.Named, j.VethNamed)
			}
		}
	}
	if !found {
		t.Errorf("ls --all does not list %s:\n%s", u.Spec(), out)
	}
	text, _, _ := nsdump("ls", "--all")
	if !strings.Contains(text, u.Spec()+" (net:[") || !strings.Contains(text, "processes: "+strconv.Itoa(u.PID)+" sleep") {
		t.Errorf("ls --all text does not show %s held by %d sleep:\n%s", u.Spec(), u.PID, text)
	}
}

// TestCaptureEndsWhenProcessExits: the namespace's process exits during a
// capture: the capture ends with one clear error naming the target.
func TestCaptureEndsWhenProcessExits(t *testing.T) {
	j := labtest.NewJoined(t, "ns")
	u := j.Unnamed
	dir := t.TempDir()
	outName, errName := filepath.Join(dir, "out"), filepath.Join(dir, "err")
	stdout, _ := os.Create(outName)
	stderr, _ := os.Create(errName)
	defer stdout.Close()
	defer stderr.Close()
	cmd := exec.Command(buildNsdump(t), "capture", u.Path()+"/"+j.VethU, j.Named, "icmp")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})
	read := func(name string) string { b, _ := os.ReadFile(name); return string(b) }
	waitForLong(t, "the capture to start", func() bool { return strings.Contains(read(errName), "capturing on") })
	exec.Command("ip", "netns", "exec", j.Named, "ping", "-c", "1", "-W", "5", j.AddrU.Addr().String()).Run()
	waitForLong(t, "the ping in the capture", func() bool {
		return strings.Contains(read(outName), u.Spec()+"/"+j.VethU+" In IP "+j.AddrNamed.Addr().String())
	})
	u.Kill()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("capture still running 2 minutes after process %d exited", u.PID)
	}
	e := read(errName)
	want := "nsdump: namespace " + u.Spec() + ": process " + strconv.Itoa(u.PID) + " exited"
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(e, want) || !strings.Contains(e, "packets captured") {
		t.Errorf("capture after the exit: exit %d, stderr %q; want exit 2 and %q", code, e, want)
	}
}

// waitForLong polls cond with a generous deadline: a failure bound only.
func waitForLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Logf("%q: %v", args, err)
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// TestTargetAndAddressInputErrors: refused before any system call, one line.
func TestTargetAndAddressInputErrors(t *testing.T) {
	tests := []struct {
		args     []string
		contains string
	}{
		{[]string{"trace", "vnet0", "vnet1", "--to", "fd00::2", "--from", "10.0.1.0"}, "not of one IP family"},
		{[]string{"trace", "vnet0", "vnet1", "--to", "fe80::1"}, "cannot be probed"},
		{[]string{"trace", "vnet0", "vnet1", "--from", "ff02::1"}, "cannot be probed"},
		{[]string{"trace", "pid:0", "vnet1"}, "not a process id"},
		{[]string{"trace", "vnet0", "proc/1/ns/net"}, "absolute path"},
		{[]string{"ls", "/proc/../etc"}, "not clean"},
		{[]string{"ls", "pid:x", "--all"}, "takes no namespaces"},
		{[]string{"route", "pid:-1", "fd00::1"}, "not a process id"},
		{[]string{"setup", "--addr0", "fe80::1/64"}, "link-local"},
		{[]string{"setup", "--addr0", "10.0.1.1/24", "--addr1", "10.0.1.1/24"}, "given twice"},
	}
	for _, tt := range tests {
		_, errOut, code := nsdump(tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.contains) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("nsdump %q: exit %d %q, want exit 2 and one line with %q", tt.args, code, errOut, tt.contains)
		}
	}
}

// TestCaptureAll: capture --all has a capture point on every interface of
// every namespace, the unnamed one's included, and the ping between them
// is in the file at both ends.
func TestCaptureAll(t *testing.T) {
	j := labtest.NewJoined(t, "ns")
	u := j.Unnamed
	dir := t.TempDir()
	file, errName := filepath.Join(dir, "all.pcapng"), filepath.Join(dir, "err")
	stderr, _ := os.Create(errName)
	defer stderr.Close()
	// Four packets: the echo and its reply, each seen at both ends (the
	// unnamed side's .11 address is one no other test lab uses).
	cmd := exec.Command(buildNsdump(t), "capture", "--all", "-B", "512", "-c", "4", "-w", file, "icmp", "and", "host", j.AddrU.Addr().String())
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	})
	read := func() string { b, _ := os.ReadFile(errName); return string(b) }
	waitForLong(t, "capture --all to start", func() bool { return strings.Contains(read(), "capturing on") })
	for _, p := range []string{u.Spec() + "/" + j.VethU, j.Named + "/" + j.VethNamed} {
		if !strings.Contains(read(), p) {
			t.Errorf("capture --all has no point %s: %s", p, read())
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", j.Named, "ping", "-c", "1", "-W", "5", j.AddrU.Addr().String()).CombinedOutput(); err != nil {
		t.Fatalf("ping: %v %s", err, out)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("capture --all -c 4 still running: %s", read())
	}
	out, _ := exec.Command("tshark", "-r", file, "-T", "fields", "-e", "frame.interface_name", "-e", "icmp.type").Output()
	got := string(out)
	want := []string{u.Spec() + "/" + j.VethU + "\t8", u.Spec() + "/" + j.VethU + "\t0", j.Named + "/" + j.VethNamed + "\t8", j.Named + "/" + j.VethNamed + "\t0"}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the file lacks %q; tshark reads:\n%s", w, got)
		}
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("capture --all ended with %d: %s", code, read())
	}
}
