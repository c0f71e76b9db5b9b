package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"golang.org/x/sys/unix"
)

// TestTraceProcessTargetsBothWays (issue 19: a namespace given as a
// /proc/PID/ns/net path lost the B->A probes): traces between a named
// namespace, an unnamed one (unshare --net) and a process inside the named
// one, given as pid:N and /proc/N/ns/net on either side, run every probe
// in both directions and each is ok.
func TestTraceProcessTargetsBothWays(t *testing.T) {
	j := labtest.NewJoined(t, "kf")
	u := j.Unnamed
	inNamed := startIn(t, j.Named)
	namedPath := "/proc/" + strconv.Itoa(inNamed) + "/ns/net"
	for _, c := range []struct{ a, b, showA, showB string }{
		{j.Named, u.Path(), j.Named, u.Spec()},
		{u.Path(), j.Named, u.Spec(), j.Named},
		{j.Named, u.Spec(), j.Named, u.Spec()},
		{u.Spec(), j.Named, u.Spec(), j.Named},
		{namedPath, u.Path(), j.Named, u.Spec()},
		{u.Path(), namedPath, u.Spec(), j.Named},
		{"pid:" + strconv.Itoa(inNamed), u.Spec(), j.Named, u.Spec()},
	} {
		out, errOut, code := nsdump("trace", c.a, c.b, "--json", "--count", "2", "--timeout", "5s")
		if code != 0 {
			t.Errorf("trace %s %s: exit %d\n%s%s", c.a, c.b, code, out, errOut)
			continue
		}
		var res struct {
			OK     bool
			Probes []struct {
				Direction, Kind, Cause, Detail string
				OK                             bool
			}
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range res.Probes {
			got = append(got, p.Direction+" "+p.Kind)
			if !p.OK || p.Cause != "ok" {
				t.Errorf("trace %s %s: %s %s is %s (%s), want ok", c.a, c.b, p.Direction, p.Kind, p.Cause, p.Detail)
			}
		}
		sort.Strings(got)
		var want []string
		for _, dir := range []string{c.showA + "->" + c.showB, c.showB + "->" + c.showA} {
			for _, kind := range []string{"icmp-echo", "mtu", "tcp"} {
				want = append(want, dir+" "+kind)
			}
		}
		sort.Strings(want)
		if !res.OK || strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("trace %s %s: ok %v, probes %q; want ok and %q", c.a, c.b, res.OK, got, want)
		}
	}
}

// startIn starts a sleeping process in the named namespace ns (ip netns
// exec) and returns its PID once it is in ns; it is killed by that PID when
// the test ends.
func startIn(t *testing.T, ns string) int {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatalf("ip netns exec %s sleep: %v", ns, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var st unix.Stat_t
	if err := unix.Stat("/run/netns/"+ns, &st); err != nil {
		t.Fatal(err)
	}
	want := "net:[" + strconv.FormatUint(st.Ino, 10) + "]"
	// ip execs sleep after entering ns: the deadline only bounds a failure.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if got, err := os.Readlink("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"); err == nil && got == want {
			return cmd.Process.Pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never entered %s", cmd.Process.Pid, ns)
		}
	}
}
