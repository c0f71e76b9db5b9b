package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology"
)

func TestTraceExitCodesAndJSON(t *testing.T) {
	flags, ns0, ns1, _, _, a0, a1 := testLab(t) // with routes
	// Healthy: it ends at the last answer; the timeout only has to be long
	// enough for a loaded machine.
	out, e, code := nsdump("trace", ns0, ns1, "--json", "--timeout", "5s")
	if code != 0 {
		t.Fatalf("healthy trace: exit %d, %s", code, e)
	}
	var res struct {
		From, To struct{ Namespace, Address string }
		OK       bool
		Probes   []struct {
			Direction, Kind, Cause, Namespace string
			OK                                bool
			RouteGet                          *struct{ Output string } `json:"route_get"`
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("trace --json: %v\n%s", err, out)
	}
	if !res.OK || len(res.Probes) != 6 || res.From.Address != a0 || res.To.Address != a1 || res.From.Namespace != ns0 {
		t.Fatalf("healthy trace JSON: %+v", res)
	}
	for _, p := range res.Probes {
		if !p.OK || p.Cause != "ok" {
			t.Errorf("healthy probe %+v", p)
		}
	}
	// Remove the lab's routes: every probe fails with no-route, exit 1.
	nsdump(append([]string{"teardown", "--force"}, flags...)...)
	nsdump(append([]string{"setup"}, flags...)...)
	file := filepath.Join(t.TempDir(), "trace.pcapng")
	out, _, code = nsdump("trace", ns0, ns1, "--timeout", "300ms", "-w", file)
	if code != 1 || !strings.Contains(out, "no-route in "+ns0) || !strings.Contains(out, "RTNETLINK answers: Network is unreachable") {
		t.Fatalf("trace without routes: exit %d\n%s", code, out)
	}
	info, err := exec.Command("capinfos", file).Output()
	if err != nil || !strings.Contains(string(info), "no-route in "+ns0+"; fix: ip -n "+ns0+" route replace") {
		t.Fatalf("capinfos of the trace file: %v\n%s", err, info)
	}
	for _, args := range [][]string{{"trace", ns0}, {"trace", ns0, "../x"}, {"trace", ns0, ns1, "--to", "fe80::1"},
		{"trace", ns0, ns1, "--count", "0"}, {"trace", ns0, "nsdk-never-made"}} {
		if _, e, code := nsdump(args...); code != 2 || strings.Count(e, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line", args, code, e)
		}
	}
}

// TestDemo runs the walkthrough under unique names: it must explain the
// missing routes, fix them, succeed, write a file tshark reads, and leave
// no namespace behind.
func TestDemo(t *testing.T) {
	flags, ns0, ns1, _, _, _, _ := testLab(t)
	nsdump(append([]string{"teardown", "--force"}, flags...)...)
	file := filepath.Join(t.TempDir(), "demo.pcapng")
	out, e, code := nsdump(append([]string{"demo", "-w", file}, flags...)...)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, e)
	}
	for _, want := range []string{"no-route in " + ns0, "fix:  ip -n " + ns0 + " route replace", "all probes ok", "test message delivered"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if topology.NamespaceExists(ns0) || topology.NamespaceExists(ns1) {
		t.Error("demo left its lab behind without --keep")
	}
	if rows := tshark(t, file, "frame.interface_name"); len(rows) < 20 {
		t.Errorf("demo file holds %d frames", len(rows))
	}
	// A lab that already exists is refused and left alone.
	nsdump(append([]string{"setup"}, flags...)...)
	if _, e, code := nsdump(append([]string{"demo", "-w", file}, flags...)...); code != 2 || !strings.Contains(e, "already exists") {
		t.Fatalf("demo over an existing lab: exit %d, %q", code, e)
	}
	if !topology.NamespaceExists(ns0) {
		t.Fatal("a refused demo removed the existing lab")
	}
}
