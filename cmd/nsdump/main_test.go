package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
)

func nsdump(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	err := run(context.Background(), args, &o, &e)
	if reportable(err) {
		fmt.Fprintln(&e, "nsdump: "+err.Error())
	}
	return o.String(), e.String(), exitCode(err)
}

func TestUsageAndInputErrors(t *testing.T) {
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"--version"}, 0, "nsdump"},
		{[]string{"--help"}, 0, "trace"},
		{[]string{"setup", "--help"}, 0, "Examples:"},
		{[]string{"route", "--help"}, 0, "nsdump route vnet0 10.0.2.0"},
		{[]string{}, 2, "no command"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"setup", "--no-such-flag"}, 2, "unknown flag"},
		{[]string{"capture", "dwa", "-i", "dwv0"}, 2, "as in nsdump capture dwa/dwv0 "},
		{[]string{"setup", "extra"}, 2, "takes no arguments"},
		{[]string{"setup", "--ns0", "../../proc"}, 2, "namespace name"},
		{[]string{"setup", "--ns0", "a/b"}, 2, "namespace name"},
		{[]string{"setup", "--ns0", ""}, 2, "empty"},
		{[]string{"setup", "--veth0", "veth0123456789ab"}, 2, "longer than 15"},
		{[]string{"setup", "--veth1", "a b"}, 2, "whitespace"},
		{[]string{"setup", "--addr0", "10.0.1.0"}, 2, "ADDR/LEN"},
		{[]string{"setup", "--ns1", "vnet0"}, 2, "needs two"},
		{[]string{"teardown", "--ns0", ".."}, 2, "not allowed"},
		{[]string{"ls", "bad\x00name"}, 2, "NUL"},
		{[]string{"route", "vnet0"}, 2, "needs a namespace and a destination"},
		{[]string{"route", "vnet0", "10.0.2.300"}, 2, "not an IP address"},
		{[]string{"route", "../x", "10.0.2.0"}, 2, "namespace name"},
		{[]string{"route", "vnet0", "10.0.2.0", "--iif", "veth0123456789ab"}, 2, "--iif"},
		{[]string{"capture"}, 2, "needs a target"},
		{[]string{"trace", "nsdt-none-a", "nsdt-none-b"}, 2, "ip netns list"},
	}
	// Checks that come after the one for privileges.
	needsRoot := map[string]bool{"trace nsdt-none-a nsdt-none-b": true}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if needsRoot[strings.Join(tt.args, " ")] {
				requireRoot(t)
			}
			out, errOut, code := nsdump(tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.contains) {
				t.Fatalf("exit %d, want %d; output %q, want it to contain %q", code, tt.code, out+errOut, tt.contains)
			}
			if code == 2 && strings.Count(strings.TrimSpace(errOut), "\n") > 0 && !strings.Contains(errOut, "Usage") {
				t.Fatalf("error is not one line: %q", errOut)
			}
		})
	}
}

func requireRoot(t *testing.T) { labtest.RequireRoot(t) }

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildNsdump builds the real binary once for the tests that run it as a
// process (signals, pipes, other users).
func buildNsdump(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nsdump-test")
		if err != nil {
			buildErr = err
			return
		}
		os.Chmod(dir, 0o755)
		builtBin = filepath.Join(dir, "nsdump")
		// No VCS stamp: git refuses a repository another user owns (a
		// root's checkout tested as nobody), and the tests need none.
		if out, err := exec.Command("go", "build", "-buildvcs=false", "-tags", "nsdumptest", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// TestUnprivilegedIsOneClearLine runs the real binary as nobody.
func TestUnprivilegedIsOneClearLine(t *testing.T) {
	requireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to drop privileges: %v", err)
	}
	bin := buildNsdump(t)
	for _, args := range [][]string{{"setup"}, {"teardown"}, {"ls"}, {"route", "vnet0", "10.0.2.0"}} {
		cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if code != 2 || !strings.Contains(stderr.String(), "CAP_NET_ADMIN") || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v as nobody: exit %d (%v), stderr %q; want exit 2 and one line naming CAP_NET_ADMIN", args, code, err, stderr.String())
		}
	}
	// Reading a capture needs no privilege at all.
	golden, err := filepath.Abs("../../testdata/pcaps/healthy.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin, "read", "-", "icmp")
	cmd.Stdin = f // the repository may sit where nobody cannot read; the data comes on stdin
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "icmp-echo") || strings.Contains(string(out), "arp ") {
		t.Errorf("read as nobody: %v\n%s", err, out)
	}
}

func TestRouteCommandExitCodes(t *testing.T) {
	requireRoot(t)
	tag := fmt.Sprintf("%05x", os.Getpid()&0xfffff)
	ns0, ns1 := "nsdc-a"+tag, "nsdc-b"+tag
	flags := []string{"--ns0", ns0, "--ns1", ns1, "--veth0", "ca" + tag, "--veth1", "cb" + tag,
		"--addr0", "172.29.1.1/24", "--addr1", "172.29.2.1/24"}
	t.Cleanup(func() { nsdump(append([]string{"teardown", "--force"}, flags...)...) })
	if _, e, code := nsdump(append([]string{"setup"}, flags...)...); code != 0 {
		t.Fatalf("setup: exit %d: %s", code, e)
	}
	_, e, code := nsdump("route", ns0, "172.29.2.1")
	if code != 1 || !strings.Contains(e, "RTNETLINK answers: Network is unreachable") {
		t.Fatalf("route without routes: exit %d, %q", code, e)
	}
	if _, e, code := nsdump(append([]string{"setup", "--routes"}, flags...)...); code != 0 {
		t.Fatalf("setup --routes: exit %d: %s", code, e)
	}
	out, e, code := nsdump("route", ns0, "172.29.2.1")
	if code != 0 || out != "172.29.2.1 dev ca"+tag+" src 172.29.1.1 uid 0\n" {
		t.Fatalf("route with routes: exit %d, %q %q", code, out, e)
	}
	out, _, code = nsdump("ls", ns0, "--json")
	if code != 0 || !strings.Contains(out, `"namespace": "`+ns1+`"`) {
		t.Fatalf("ls --json: exit %d, %s", code, out)
	}
	_, e, code = nsdump("ls", "nsdc-never-made")
	if code != 2 || !strings.Contains(e, "ip netns list") {
		t.Fatalf("ls of an unknown namespace: exit %d, %q", code, e)
	}
	out, _, code = nsdump(append([]string{"teardown"}, flags...)...)
	if code != 0 || !strings.Contains(out, "ip netns del "+ns0) {
		t.Fatalf("teardown: exit %d, %q", code, out)
	}
}
