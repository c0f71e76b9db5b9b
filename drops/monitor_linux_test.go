package drops

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// lab is a two-namespace test lab with the inodes of its namespaces.
type lab struct {
	topology.Lab
	inoA, inoB uint64
}

func newLab(t *testing.T) lab {
	t.Helper()
	l := labtest.New(t, "dr", true)
	return lab{Lab: l, inoA: inode(t, l.NS0), inoB: inode(t, l.NS1)}
}

func inode(t *testing.T, ns string) uint64 {
	t.Helper()
	h, err := topology.OpenNamespace(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ino, err := topology.Inode(h)
	if err != nil {
		t.Fatal(err)
	}
	return ino
}

// sh runs a command line in a namespace ("" for none: ip -n itself).
func sh(t *testing.T, ns string, args ...string) string {
	t.Helper()
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// try runs a command whose failure is the point (a ping that gets no answer).
func try(ns string, args ...string) {
	exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).Run()
}

// collector gathers what a monitor reports.
type collector struct {
	mu    sync.Mutex
	drops []Drop
}

func (c *collector) add(d Drop) {
	d.Data, d.MAC = bytes.Clone(d.Data), bytes.Clone(d.MAC)
	c.mu.Lock()
	c.drops = append(c.drops, d)
	c.mu.Unlock()
}

func (c *collector) find(match func(*Drop) bool) (Drop, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.drops {
		if match(&c.drops[i]) {
			return c.drops[i], true
		}
	}
	return Drop{}, false
}

func (c *collector) all() []Drop {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Drop(nil), c.drops...)
}

// watch starts a monitor on the inodes, stopped when the test ends.
func watch(t *testing.T, inodes ...uint64) (*Monitor, *collector) {
	t.Helper()
	m, err := Open(inodes, nil)
	if err != nil {
		t.Fatalf("open the drop monitor: %v", err)
	}
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, c.add) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		m.Close()
	})
	return m, c
}

// await provokes until a matching drop arrives, or fails after a bound
// that only a broken monitor reaches.
func await(t *testing.T, c *collector, provoke func(), match func(*Drop) bool) Drop {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		provoke()
		if d, ok := c.find(match); ok {
			return d
		}
		// The drop may still be on its way from the ring: poll it.
		for range 20 {
			if d, ok := c.find(match); ok {
				return d
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var got []string
	for _, d := range c.all() {
		got = append(got, fmt.Sprintf("%s at %s ns %d %s", d.Reason, d.Location, d.Netns, d.Iface))
	}
	t.Fatalf("no matching drop; the monitor saw:\n%s", strings.Join(got, "\n"))
	return Drop{}
}

// onlyFrom fails the test for any drop outside the watched namespaces.
func onlyFrom(t *testing.T, c *collector, inodes ...uint64) {
	t.Helper()
	for _, d := range c.all() {
		ok := false
		for _, ino := range inodes {
			ok = ok || d.Netns == ino
		}
		if !ok {
			t.Errorf("drop from namespace %d, which nobody watched: %s at %s (%s)", d.Netns, d.Reason, d.Location, d.Iface)
		}
	}
}

func addr(p netip.Prefix) string { return p.Addr().String() }
