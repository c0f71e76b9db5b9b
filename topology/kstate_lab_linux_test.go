package topology

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var ksSeq atomic.Int32

// ksNamespace creates a namespace named nsdks-..., with lo up, removed when
// the test ends, and returns it held.
func ksNamespace(t *testing.T) Held {
	t.Helper()
	requireRoot(t)
	name := fmt.Sprintf("nsdks-%04x%02x", os.Getpid()&0xffff, ksSeq.Add(1)&0xff)
	if err := CreateNamespace(name); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() { DeleteNamespace(name) })
	h, err := OpenNamespace(name)
	if err != nil {
		t.Fatalf("open namespace: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return Held{Handle: h, Name: name}
}

// run runs a command and returns its stdout; it fails the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v %s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// inNS runs a command inside ns (ip netns exec) and returns its stdout.
func inNS(t *testing.T, ns Held, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns.Name}, args...)...)
}

// pollUntil polls kernel state until cond holds, a bounded number of
// times: the bound is a count of looks, not a claim about how long the
// kernel takes.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1200 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s: not seen after 1200 looks", what)
}

func fmtSscan(line string, prio *int) (int, error) { return fmt.Sscanf(line, "%d:", prio) }
