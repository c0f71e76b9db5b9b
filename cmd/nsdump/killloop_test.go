package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// TestKillAtRandomInstants kills `nsdump setup` and `nsdump demo` with
// SIGKILL at instants drawn from a seeded generator (NSDUMP_KILL_SEED
// replays a run; scripts/kill-loop.sh does 200 kills, with trace and
// capture too). After every kill each name of the two labs holds nothing, a
// namespace, or an empty file nsdump's record claims, and ls works; a
// killed demo's lab is removed by --leftovers. At the end setup, ls and
// teardown work, nothing is recorded, and a bystander namespace has its
// identity unchanged.
func TestKillAtRandomInstants(t *testing.T) {
	const kills = 20
	labtest.RequireRoot(t)
	state := t.TempDir()
	t.Setenv("NSDUMP_STATE_DIR", state)
	seed := uint64(14)
	if s := os.Getenv("NSDUMP_KILL_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("NSDUMP_KILL_SEED: %v", err)
		}
	}
	t.Logf("seed %d (NSDUMP_KILL_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	setupLab, demoLab := labtest.Names(t, "lb"), labtest.Names(t, "lb")
	bin := buildNsdump(t)
	bystander := setupLab.NS0 + "-by"
	if out, err := exec.Command("ip", "netns", "add", bystander).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", bystander).Run() })
	byID, err := topology.NamespaceIdentity(bystander)
	if err != nil {
		t.Fatal(err)
	}

	counts := map[string]int{}
	for i := range kills {
		args, lab, limit := []string{"setup"}, setupLab, 80*time.Millisecond
		if rng.IntN(2) == 0 {
			args, lab, limit = []string{"demo", "-w", filepath.Join(t.TempDir(), "d.pcapng")}, demoLab, 700*time.Millisecond
		} else if rng.IntN(2) == 0 {
			args = append(args, "--routes")
		}
		args = append(args, labtest.Flags(lab)...)
		delay := time.Duration(rng.Int64N(int64(limit)))
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay) // the random instant of the kill: the point of the test, not synchronisation
		cmd.Process.Kill()
		cmd.Wait()
		for _, ns := range []string{lab.NS0, lab.NS1} {
			what := classify(t, state, ns)
			counts[args[0]+" "+what]++
			if what == "unclaimed empty file" {
				t.Fatalf("kill %d (%s after %v): %s is an empty file no record claims", i, args[0], delay, ns)
			}
		}
		if _, e, code := nsdump("ls"); code != 0 {
			t.Fatalf("kill %d (%s after %v): ls exit %d: %s", i, args[0], delay, code, e)
		}
		if args[0] == "setup" && rng.IntN(2) == 0 {
			// Start the next setup from nothing, so kills fall during creation too.
			if out, e, code := nsdump(append([]string{"teardown", "--force"}, labtest.Flags(lab)...)...); code != 0 {
				t.Fatalf("kill %d (setup after %v): teardown exit %d %q %q", i, delay, code, out, e)
			}
			for _, ns := range []string{lab.NS0, lab.NS1} {
				if _, err := os.Lstat(topology.NamespacePath(ns)); err == nil {
					t.Fatalf("kill %d (setup after %v): %s survived teardown", i, delay, ns)
				}
			}
		}
		if args[0] == "demo" {
			if out, e, code := nsdump("teardown", "--leftovers"); code != 0 {
				t.Fatalf("kill %d (demo after %v): teardown --leftovers exit %d %q %q", i, delay, code, out, e)
			}
			for _, ns := range []string{lab.NS0, lab.NS1} {
				if _, err := os.Lstat(topology.NamespacePath(ns)); err == nil {
					t.Fatalf("kill %d (demo after %v): %s survived teardown --leftovers", i, delay, ns)
				}
			}
		}
	}
	var summary []string
	for k, n := range counts {
		summary = append(summary, fmt.Sprintf("%s: %d", k, n))
	}
	slices.Sort(summary)
	t.Logf("after each kill, per name: %s", strings.Join(summary, ", "))

	flags := labtest.Flags(setupLab)
	if out, e, code := nsdump(append([]string{"setup", "--routes"}, flags...)...); code != 0 {
		t.Fatalf("setup after the kills: exit %d %q %q", code, out, e)
	}
	if out, e, code := nsdump("ls", setupLab.NS0); code != 0 || !strings.Contains(out, setupLab.Veth0) {
		t.Fatalf("ls after the kills: exit %d %q %q", code, out, e)
	}
	if out, e, code := nsdump(append([]string{"teardown"}, flags...)...); code != 0 || topology.NamespaceExists(setupLab.NS0) {
		t.Fatalf("teardown after the kills: exit %d %q %q", code, out, e)
	}
	if out, e, code := nsdump("teardown", "--leftovers"); code != 0 || out != "no leftovers\n" {
		t.Fatalf("teardown --leftovers at the end: exit %d %q %q", code, out, e)
	}
	if recs, _ := os.ReadDir(filepath.Join(state, "ns")); len(recs) != 0 {
		t.Fatalf("records left: %v", recs)
	}
	if id, err := topology.NamespaceIdentity(bystander); err != nil || id != byID {
		t.Fatalf("bystander %s: %+v %v, was %+v", bystander, id, err, byID)
	}
}

// classify names what /run/netns/NAME holds after a kill.
func classify(t *testing.T, state, ns string) string {
	t.Helper()
	if _, err := os.Lstat(topology.NamespacePath(ns)); err != nil {
		return "nothing"
	}
	if topology.NamespaceExists(ns) {
		return "namespace"
	}
	if _, err := os.Stat(filepath.Join(state, "ns", ns)); err == nil {
		return "claimed empty file"
	}
	return "unclaimed empty file"
}

// TestKillAtEachStepOfCreation stops `nsdump setup` and `nsdump demo` at
// each step of creating their first namespace (NSDUMP_CRASH_POINT: the
// windows are too narrow for random kills to hit often), kills them there
// with SIGKILL, and checks what is left is what the design says, that ls
// names it once, and that setup, teardown and --leftovers deal with it.
func TestKillAtEachStepOfCreation(t *testing.T) {
	labtest.RequireRoot(t)
	state := t.TempDir()
	t.Setenv("NSDUMP_STATE_DIR", state)
	bin := buildNsdump(t)
	for _, tc := range []struct{ point, left string }{
		{"recorded", "nothing"},              // the namespace existed only in the process
		{"mountpoint", "claimed empty file"}, // the window iproute2 leaves unclaimed
		{"mounted", "namespace"},             // complete, its record not yet settled
	} {
		for _, command := range []string{"setup", "demo"} {
			t.Run(command+"/"+tc.point, func(t *testing.T) {
				l := labtest.Names(t, "lb")
				args := append([]string{command}, labtest.Flags(l)...)
				if command == "demo" {
					args = append(args, "-w", filepath.Join(t.TempDir(), "d.pcapng"))
				}
				cmd := exec.Command(bin, args...)
				cmd.Env = append(os.Environ(), "NSDUMP_CRASH_POINT="+tc.point)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				for deadline := time.Now().Add(30 * time.Second); !stopped(cmd.Process.Pid); time.Sleep(5 * time.Millisecond) {
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						cmd.Wait()
						t.Fatalf("%s never reached %s", command, tc.point)
					}
				}
				cmd.Process.Kill()
				cmd.Wait()
				if got := classify(t, state, l.NS0); got != tc.left {
					t.Fatalf("%s killed at %s left %s, want %s", command, tc.point, got, tc.left)
				}
				if got := classify(t, state, l.NS1); got != "nothing" {
					t.Fatalf("%s killed while creating %s left %s at %s", command, l.NS0, got, l.NS1)
				}
				_, e, code := nsdump("ls")
				if code != 0 {
					t.Fatalf("ls: exit %d %q", code, e)
				}
				if n := strings.Count(e, l.NS0); (tc.left == "claimed empty file" || tc.left == "namespace" && command == "demo") != (n == 1) || n > 1 {
					t.Fatalf("ls names %s %d times: %q", l.NS0, n, e)
				}
				if command == "demo" {
					out, e, code := nsdump("teardown", "--leftovers")
					if code != 0 || tc.left != "nothing" && !strings.Contains(out, "ip netns del "+l.NS0) {
						t.Fatalf("teardown --leftovers: exit %d %q %q", code, out, e)
					}
				} else {
					out, e, code := nsdump(append([]string{"setup"}, labtest.Flags(l)...)...)
					if code != 0 || !topology.NamespaceExists(l.NS0) || !topology.NamespaceExists(l.NS1) {
						t.Fatalf("setup after the kill: exit %d %q %q", code, out, e)
					}
					if out, e, code := nsdump(append([]string{"teardown"}, labtest.Flags(l)...)...); code != 0 {
						t.Fatalf("teardown: exit %d %q %q", code, out, e)
					}
				}
				if got := classify(t, state, l.NS0); got != "nothing" {
					t.Fatalf("%s is still %s", l.NS0, got)
				}
				if recs, _ := os.ReadDir(filepath.Join(state, "ns")); len(recs) != 0 {
					t.Fatalf("records left: %v", recs)
				}
			})
		}
	}
}

// stopped reports whether every thread of the process is stopped by a
// signal (state T).
func stopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || len(s) <= i+2 || s[i+2] != 'T' {
			return false
		}
	}
	return true
}
