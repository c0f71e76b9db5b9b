package capture

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// TestPointDescriptionsLive: a capture's points say their namespace and
// inode, a veth's peer, a bridge port's bridge, and the container a
// target named.
func TestPointDescriptionsLive(t *testing.T) {
	l := labtest.New(t, "ws", true)
	ino := func(ns string) uint64 {
		h, err := topology.OpenNamespace(ns)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		n, err := topology.Inode(h)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	br := "wsbr" + l.Veth1[len(l.Veth1)-4:]
	for _, args := range [][]string{{"link", "add", br, "type", "bridge"}, {"link", "set", l.Veth1, "master", br}, {"link", "set", br, "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", l.NS1}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %v: %v %s", l.NS1, args, err, out)
		}
	}
	s, err := Open([]Target{{Namespace: l.NS0, Interface: l.Veth0, Container: "docker:web"}, {Namespace: l.NS1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]string{
		l.NS0 + "/" + l.Veth0: fmt.Sprintf("container docker:web, namespace %s (inode %d), veth peer %s/%s", l.NS0, ino(l.NS0), l.NS1, l.Veth1),
		l.NS1 + "/" + l.Veth1: fmt.Sprintf("namespace %s (inode %d), veth peer %s/%s, port of bridge %s", l.NS1, ino(l.NS1), l.NS0, l.Veth0, br),
		l.NS1 + "/" + br:      fmt.Sprintf("namespace %s (inode %d), bridge", l.NS1, ino(l.NS1)),
	}
	for _, p := range s.Points() {
		if p.Description != want[p.Name] {
			t.Errorf("%s: description %q, want %q", p.Name, p.Description, want[p.Name])
		}
		delete(want, p.Name)
	}
	if len(want) > 0 {
		t.Errorf("no capture point for %v", want)
	}
}
