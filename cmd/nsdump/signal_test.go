package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/topology"
)

// stops sends sig and waits for the process to end. The bound only limits
// a failure on a loaded machine: the 1 s goal for ending on a signal is a
// timing goal, measured by scripts/bench-signal.sh, not asserted here. The
// callers tell an ended-by-the-signal process by what it says.
func stops(t *testing.T, cmd *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(sig)
	start := time.Now()
	select {
	case <-done:
		t.Logf("%v ended it in %v", sig, time.Since(start))
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 30s after %v", sig)
	}
}

// waitFor polls cond for up to 30 s (a bound for a failure, not a goal).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// listening reports whether something listens on TCP port in namespace ns.
func listening(ns string, port int) bool {
	out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port)).Output()
	return len(bytes.TrimSpace(out)) > 0
}

// TestSignalDuringTrace: a trace waiting out a long timeout (a firewall
// drops everything) stops on SIGINT or SIGTERM, says it was interrupted,
// and leaves its listeners closed: the port is free again.
func TestSignalDuringTrace(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			_, ns0, ns1, _, _, a0, _ := testLab(t)
			for _, c := range [][]string{{"add", "table", "inet", "nsdt"},
				{"add", "chain", "inet", "nsdt", "in", "{ type filter hook input priority 0; }"},
				{"add", "rule", "inet", "nsdt", "in", "ip", "saddr", a0, "drop"}} {
				if out, err := exec.Command("ip", append([]string{"netns", "exec", ns1, "nft"}, c...)...).CombinedOutput(); err != nil {
					t.Fatalf("nft: %v %s", err, out)
				}
			}
			cmd := exec.Command(buildNsdump(t), "trace", ns0, ns1, "--timeout", "10s", "--port", "7097")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Its listener is up: the trace is running, its signal handler set.
			waitFor(t, "the trace's listener", func() bool { return listening(ns1, 7097) })
			stops(t, cmd, sig)
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr %q, want it to say interrupted", stderr.String())
			}
			// The listeners are gone: trace can listen on the same port again at once.
			if _, e, code := nsdump("trace", ns1, ns0, "--count", "1", "--timeout", "200ms", "--port", "7097"); strings.Contains(e, "listen") {
				t.Errorf("port 7097 still taken after the interrupted trace: exit %d %s", code, e)
			}
		})
	}
}

// TestSignalDuringDemo: SIGINT while the demo runs ends it, it says it was
// interrupted (a demo that ran to its end would not), and the lab it built
// is gone.
func TestSignalDuringDemo(t *testing.T) {
	flags, ns0, ns1, _, _, _, _ := testLab(t)
	nsdump(append([]string{"teardown", "--force"}, flags...)...)
	cmd := exec.Command(buildNsdump(t), append([]string{"demo", "-w", t.TempDir() + "/d.pcapng"}, flags...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the demo's lab", func() bool { return topology.NamespaceExists(ns1) })
	stops(t, cmd, syscall.SIGINT)
	if code := cmd.ProcessState.ExitCode(); code == 0 || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("demo after SIGINT: exit %d, stderr %q; want it to say interrupted", code, stderr.String())
	}
	if topology.NamespaceExists(ns0) || topology.NamespaceExists(ns1) {
		t.Error("the interrupted demo left its lab behind")
	}
}

// TestKilledDemoLeftovers: after kill -9 the next run names what the demo
// left, teardown --leftovers removes exactly that, and a namespace nsdump
// did not create is never touched.
//
// The test keeps its records in a state directory of its own: in the
// shared /run/nsdump another run's `teardown --leftovers` (another test
// binary on the machine) may remove this demo's dead lab between two of
// its steps, and this test's --leftovers would remove other runs' labs.
// The demo is killed at a known instant: stopped (NSDUMP_CRASH_POINT) once
// its second namespace is mounted, not at whatever point a poll notices it.
func TestKilledDemoLeftovers(t *testing.T) {
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	flags, ns0, ns1, _, _, _, _ := testLab(t)
	nsdump(append([]string{"teardown", "--force"}, flags...)...)
	bystander := ns0 + "x"
	if out, err := exec.Command("ip", "netns", "add", bystander).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", bystander).Run() })
	cmd := exec.Command(buildNsdump(t), append([]string{"demo", "-w", t.TempDir() + "/d.pcapng"}, flags...)...)
	cmd.Env = append(os.Environ(), "NSDUMP_CRASH_POINT=mounted")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The demo stops after mounting each namespace: let it go on past the
	// first, until it stops with the second in place.
	waitFor(t, "the demo's lab", func() bool {
		if !stopped(cmd.Process.Pid) {
			return false
		}
		if topology.NamespaceExists(ns0) && topology.NamespaceExists(ns1) {
			return true
		}
		cmd.Process.Signal(syscall.SIGCONT)
		return false
	})
	cmd.Process.Kill()
	cmd.Wait()
	if !topology.NamespaceExists(ns0) {
		t.Fatal("the demo's lab was gone right after SIGKILL: nothing to test the leftovers with")
	}
	_, e, _ := nsdump("ls", bystander)
	if !strings.Contains(e, ns0) || !strings.Contains(e, ns1) || !strings.Contains(e, "teardown --leftovers") || strings.Contains(e, bystander+" (") {
		t.Fatalf("the next run's warning: %q", e)
	}
	out, e, code := nsdump("teardown", "--leftovers")
	if code != 0 || !strings.Contains(out, "ip netns del "+ns0) || !strings.Contains(out, "ip netns del "+ns1) {
		t.Fatalf("teardown --leftovers: exit %d %q %q", code, out, e)
	}
	if topology.NamespaceExists(ns0) || topology.NamespaceExists(ns1) || !topology.NamespaceExists(bystander) {
		t.Fatal("teardown --leftovers removed the wrong namespaces")
	}
	if _, e, _ := nsdump("ls", bystander); strings.Contains(e, "left behind") {
		t.Fatalf("still warned after the cleanup: %q", e)
	}
}

// TestParallelSetupProcesses: nsdump processes setting up labs at once, two
// of them the same lab, all succeed and leave complete labs.
func TestParallelSetupProcesses(t *testing.T) {
	flagsA, _, _, _, _, _, _ := testLab(t)
	flagsB, _, _, _, _, _, _ := testLab(t)
	for _, f := range [][]string{flagsA, flagsB} {
		nsdump(append([]string{"teardown", "--force"}, f...)...)
	}
	var cmds []*exec.Cmd
	for _, f := range [][]string{flagsA, flagsA, flagsB, flagsB} {
		cmd := exec.Command(buildNsdump(t), append([]string{"setup", "--routes"}, f...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("parallel setup: %v %s", err, cmd.Stderr)
		}
	}
	for _, f := range [][]string{flagsA, flagsB} {
		if out, _, code := nsdump(append([]string{"setup", "--routes"}, f...)...); code != 0 || !strings.Contains(out, "already in place") {
			t.Errorf("lab after the parallel setups: exit %d %q", code, out)
		}
	}
}
