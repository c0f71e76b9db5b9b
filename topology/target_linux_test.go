package topology_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// TestUnnamedNamespace is a container's namespace: made by unshare --net,
// held by a sleeping process, joined by a veth to a named one.
func TestUnnamedNamespace(t *testing.T) {
	j := labtest.NewJoined(t, "ns")
	u := j.Unnamed
	ts := topology.NewTargets()
	for _, spec := range []string{u.Spec(), u.Path()} {
		n, err := ts.Hold(spec)
		if err != nil {
			t.Fatalf("Hold(%s): %v", spec, err)
		}
		if n.Name != u.Spec() || n.PID != u.PID || n.Inode == 0 {
			t.Errorf("Hold(%s) = name %q pid %d inode %d, want %s", spec, n.Name, n.PID, n.Inode, u.Spec())
		}
		ns, err := ts.Inspect(n.Name)
		if err != nil {
			t.Fatalf("Inspect(%s): %v", n.Name, err)
		}
		if ns.Inode != n.Inode {
			t.Errorf("Inspect(%s) saw inode %d, held %d", n.Name, ns.Inode, n.Inode)
		}
		if p := peerOf(ns, j.VethU); p != j.Named+"/"+j.VethNamed {
			t.Errorf("%s: peer of %s is %q, want %s/%s", spec, j.VethU, p, j.Named, j.VethNamed)
		}
		n.Close()
	}
	// From the named side, the peer in the unnamed namespace is shown as pid:N.
	named, err := topology.Inspect(j.Named)
	if err != nil {
		t.Fatal(err)
	}
	if p := peerOf(named, j.VethNamed); p != u.Spec()+"/"+j.VethU {
		t.Errorf("peer of %s is %q, want %s/%s", j.VethNamed, p, u.Spec(), j.VethU)
	}
	// A named namespace reached by a process inside it shows its name.
	for _, w := range []string{u.Spec() + "/" + j.VethU, u.Path() + "/" + j.VethU, u.Path(), j.Named + "/" + j.VethNamed} {
		if !topology.IsTarget(w) {
			t.Errorf("IsTarget(%q) = false", w)
		}
	}
	if ns, ifc, err := topology.SplitTarget(u.Path() + "/" + j.VethU); err != nil || ns != u.Path() || ifc != j.VethU {
		t.Errorf("SplitTarget(path/iface) = %q %q %v", ns, ifc, err)
	}
	for _, w := range []string{"host", "pid:4194303", "/etc/passwd", "/proc/self/ns/mnt"} {
		if topology.IsTarget(w) {
			t.Errorf("IsTarget(%q) = true", w)
		}
	}
	found, err := topology.AllNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, f := range found {
		if f.Display() == u.Spec() {
			seen = true
			if f.Name != "" || len(f.PIDs) == 0 || f.PIDs[0] != u.PID {
				t.Errorf("AllNamespaces: %s has name %q pids %v", u.Spec(), f.Name, f.PIDs)
			}
		}
	}
	if !seen {
		t.Errorf("AllNamespaces does not list %s", u.Spec())
	}
}

// TestHolderExits: the held namespace outlives its process, and the exit
// is one clear error naming the target.
func TestHolderExits(t *testing.T) {
	u := labtest.NewUnnamed(t)
	ts := topology.NewTargets()
	n, err := ts.Hold(u.Spec())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- topology.WaitHolders(ctx, []*topology.NetNS{n}) }()
	u.Kill()
	err = <-done
	if !errors.Is(err, topology.ErrHolderExited) || !strings.Contains(err.Error(), u.Spec()) {
		t.Fatalf("WaitHolders after the kill: %v, want an error naming %s", err, u.Spec())
	}
	// The fd still holds the namespace: it can be inspected.
	if _, err := ts.Inspect(n.Name); err != nil {
		t.Errorf("the held namespace after its process exited: %v", err)
	}
	n.Close()
	_, err = ts.Hold(fmt.Sprintf("pid:%d", u.PID))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid:%d: process %d", u.PID, u.PID)) {
		t.Errorf("Hold of an exited process: %v, want one error naming it", err)
	}
}

func peerOf(ns *topology.Namespace, ifc string) string {
	for _, i := range ns.Interfaces {
		if i.Name == ifc && i.Peer != nil {
			return i.Peer.String()
		}
	}
	return ""
}

func TestSplitContainerTargets(t *testing.T) {
	for in, want := range map[string][2]string{
		"docker:web":              {"docker:web", ""},
		"docker:web/eth0":         {"docker:web", "eth0"},
		"pod:shop/web-0":          {"pod:shop/web-0", ""},
		"pod:shop/web-0/eth0":     {"pod:shop/web-0", "eth0"},
		"containerd:k8s.io/a/lo":  {"containerd:k8s.io/a", "lo"},
		"containerd:k8s.io/a/":    {"", ""},
		"pod:shop/web-0/eth0/bad": {"", ""},
	} {
		ns, iface, err := topology.SplitTarget(in)
		if want[0] == "" {
			if err == nil {
				t.Errorf("SplitTarget(%q) = %q, %q; want an error", in, ns, iface)
			}
			continue
		}
		if err != nil || ns != want[0] || iface != want[1] {
			t.Errorf("SplitTarget(%q) = %q, %q, %v; want %q", in, ns, iface, err, want)
		}
	}
}
