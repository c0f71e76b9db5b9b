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
