package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// hostileNames are refused as namespace and interface names; a 16-byte
// name only as an interface name (IFNAMSIZ), namespaces may be longer.
var hostileNames = []string{"", ".", "..", "../../proc", "a/b", "a b", "tab\tname", "new\nline", "\xff\xfe"}

const longIface = "abcdefghijklmnop"

// hostileAddrs are refused as addresses.
var hostileAddrs = []string{"", "10.0.2", "10.0.2.300", "999.1.1.1", "10.0.2.0/33", "::g", "fe80::1%eth0", "../x"}

// TestHostileInputRefusedBeforeAnySyscall runs every command as user
// nobody with each bad name and address: the answer must be the input
// error (exit 2, one line), not the missing privileges, which shows the
// check came before any system call that needs them. (NUL cannot travel in
// argv; TestUsageAndInputErrors feeds it in process.)
func TestHostileInputRefusedBeforeAnySyscall(t *testing.T) {
	requireRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux): %v", err)
	}
	bin := buildNsdump(t)
	var cases [][]string
	for _, n := range hostileNames {
		cases = append(cases,
			[]string{"setup", "--ns0", n}, []string{"teardown", "--ns1", n}, []string{"demo", "--ns0", n},
			[]string{"ls", n}, []string{"route", n, "10.0.2.0"}, []string{"trace", n, "vnet1"}, []string{"trace", "vnet0", n})
	}
	for _, n := range append(hostileNames, longIface) {
		cases = append(cases, []string{"setup", "--veth1", n}, []string{"teardown", "--veth0", n})
		if n != "" { // an empty --iif means no --iif
			cases = append(cases, []string{"route", "vnet0", "10.0.2.0", "--iif", n})
		}
		if n != "" && !strings.Contains(n, "/") {
			cases = append(cases, []string{"capture", "vnet0/" + n})
		}
	}
	for _, a := range hostileAddrs {
		cases = append(cases, []string{"setup", "--addr0", a}, []string{"route", "vnet0", a})
		if a != "" { // empty --from and --to mean unset
			cases = append(cases, []string{"route", "vnet0", "10.0.2.0", "--from", a}, []string{"trace", "vnet0", "vnet1", "--to", a})
		}
	}
	for _, args := range cases {
		cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Run()
		e := stderr.String()
		if code := cmd.ProcessState.ExitCode(); code != 2 || strings.Count(e, "\n") != 1 || strings.Contains(e, "CAP_NET_ADMIN") || strings.Contains(e, "panic") {
			t.Errorf("nsdump %q as nobody: exit %d, %q; want exit 2 and the input error in one line", args, code, e)
		}
	}
	t.Logf("%d hostile command lines refused", len(cases))
}
