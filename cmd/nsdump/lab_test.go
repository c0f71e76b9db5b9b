package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// TestSetupRefusals: exit 2 with the conflict named, for the lab's subnet on
// another interface and for addresses that cannot work; the walkthrough's
// network address stays allowed.
func TestSetupRefusals(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"255.255.255.255/32", "limited broadcast"},
		{"10.0.1.255/24", "broadcast address of 10.0.1.0/24"},
		{"224.0.0.9/24", "multicast"},
		{"0.0.0.0/24", "unspecified"},
		{"127.0.0.9/8", "loopback"},
	} {
		_, e, code := nsdump("setup", "--ns0", "nsdlb-never-a", "--ns1", "nsdlb-never-b", "--addr0", tt.addr)
		if code != 2 || !strings.Contains(e, tt.want) || strings.Count(e, "\n") != 1 {
			t.Errorf("setup --addr0 %s: exit %d %q, want exit 2 and one line saying %q", tt.addr, code, e, tt.want)
		}
	}
	if _, err := os.Lstat(topology.NamespacePath("nsdlb-never-a")); err == nil {
		t.Fatal("a refused setup created a namespace")
	}

	l := labtest.Names(t, "lb")
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	l.Addr0 = topology.DefaultLab().Addr0 // 10.0.1.0/24, the network address, as in the walkthrough
	if out, e, code := nsdump(append([]string{"setup"}, labtest.Flags(l)...)...); code != 0 {
		t.Fatalf("setup with %s: exit %d %q %q", l.Addr0, code, out, e)
	}
	if out, err := exec.Command("ip", "-n", l.NS0, "link", "add", "lbdup0", "type", "veth", "peer", "name", "lbdup1").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := exec.Command("ip", "-n", l.NS0, "addr", "add", "10.0.1.200/24", "dev", "lbdup0").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	_, e, code := nsdump(append([]string{"setup", "--routes"}, labtest.Flags(l)...)...)
	if code != 2 || !strings.Contains(e, "10.0.1.200/24 on lbdup0") || !strings.Contains(e, l.NS0) {
		t.Fatalf("setup with the subnet on lbdup0: exit %d %q, want exit 2 naming 10.0.1.200/24 on lbdup0", code, e)
	}
}

// TestDemoKeepHandsOver: after demo --keep the lab is the user's: no
// warning from later commands, and --leftovers does not remove it; the
// demo says it kept the lab and prints the command that removes it.
func TestDemoKeepHandsOver(t *testing.T) {
	l := labtest.Names(t, "lb")
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	args := append([]string{"demo", "--keep", "-w", filepath.Join(t.TempDir(), "d.pcapng")}, labtest.Flags(l)...)
	out, err := exec.Command(buildNsdump(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("demo --keep: %v\n%s", err, out)
	}
	_, removal, said := strings.Cut(string(out), "the lab is kept: "+l.NS0+" and "+l.NS1+" stay, yours as if nsdump setup had built them; remove them with: nsdump ")
	removal, _, _ = strings.Cut(removal, "\n")
	if !said || !strings.HasPrefix(removal, "teardown ") {
		t.Fatalf("demo --keep does not say it kept the lab and how to remove it:\n%s", out)
	}
	if !topology.NamespaceExists(l.NS0) || !topology.NamespaceExists(l.NS1) {
		t.Fatal("demo --keep did not keep its lab")
	}
	if _, e, code := nsdump("ls", l.NS0); code != 0 || e != "" {
		t.Fatalf("ls after demo --keep: exit %d, stderr %q", code, e)
	}
	if out, e, code := nsdump("teardown", "--leftovers"); code != 0 || out != "no leftovers\n" {
		t.Fatalf("teardown --leftovers after demo --keep: exit %d %q %q", code, out, e)
	}
	if !topology.NamespaceExists(l.NS0) || !topology.NamespaceExists(l.NS1) {
		t.Fatal("teardown --leftovers removed the kept lab")
	}
	if out, e, code := nsdump(strings.Fields(removal)...); code != 0 || !strings.Contains(out, "ip netns del "+l.NS1) || topology.NamespaceExists(l.NS0) {
		t.Fatalf("nsdump %s, as demo --keep printed it: exit %d %q %q", removal, code, out, e)
	}
}

// TestLsSkipsAnEmptyEntry: an empty file under /run/netns (what a kill of
// `ip netns add` at the wrong instant leaves) costs one warning, not the
// listing of every other namespace.
func TestLsSkipsAnEmptyEntry(t *testing.T) {
	l := labtest.Names(t, "lb")
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	if _, e, code := nsdump(append([]string{"setup"}, labtest.Flags(l)...)...); code != 0 {
		t.Fatalf("setup: %s", e)
	}
	bad := l.NS0 + "-empty"
	if err := os.WriteFile(topology.NamespacePath(bad), nil, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(topology.NamespacePath(bad)) })
	out, e, code := nsdump("ls")
	if code != 0 || !strings.Contains(out, l.NS0+" (net:[") || !strings.Contains(out, l.NS1+" (net:[") {
		t.Fatalf("ls with %s empty: exit %d, stdout %q, stderr %q", bad, code, out, e)
	}
	if strings.Count(e, bad) != 1 || !strings.Contains(e, "warning: skipped") || strings.Contains(out, bad) {
		t.Fatalf("ls should warn once about %s: stderr %q", bad, e)
	}
	if _, e, code := nsdump("ls", bad); code != 2 || !strings.Contains(e, "not a namespace mount") {
		t.Fatalf("ls %s: exit %d %q", bad, code, e)
	}
	out, e, code = nsdump("teardown", "--ns0", bad, "--ns1", bad+"x")
	if code != 0 || !strings.Contains(out, "ip netns del "+bad) {
		t.Fatalf("teardown of the empty entry: exit %d %q %q", code, out, e)
	}
	if _, err := os.Lstat(topology.NamespacePath(bad)); !os.IsNotExist(err) {
		t.Fatalf("teardown left the empty file: %v", err)
	}
}
