package trace

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/internal/labtest"
)

// crowd is a crowded bridge, as a Docker host has one: members, each a
// namespace whose eth0 is a veth with its peer pN a port of br0 in the
// namespace bridge, all on 10.97.0.0/16.
type crowd struct {
	bridge  string
	members []string
}

var crowdSeq atomic.Int32

// addr is member i's address (i from 0).
func (c *crowd) addr(i int) string {
	return fmt.Sprintf("10.97.%d.%d", (i+1)/250, (i+1)%250+1)
}

// newCrowd builds a bridge of n members; everything goes when the test
// ends. The members are built a few at a time: each takes a handful of
// ip commands.
func newCrowd(t testing.TB, n int) *crowd {
	t.Helper()
	labtest.RequireRoot(t)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, crowdSeq.Add(1)&0xff)
	c := &crowd{bridge: "n3c-br" + tag}
	for i := range n {
		c.members = append(c.members, fmt.Sprintf("n3c-%s-%d", tag, i))
	}
	t.Cleanup(func() {
		for _, m := range append([]string{c.bridge}, c.members...) {
			exec.Command("ip", "netns", "del", m).Run()
		}
	})
	crowdRun(t, "ip", "netns", "add", c.bridge)
	crowdRun(t, cmdline.InNamespace(c.bridge, "ip", "link", "add", "br0", "type", "bridge")...)
	crowdRun(t, cmdline.InNamespace(c.bridge, "ip", "link", "set", "br0", "up")...)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var mu sync.Mutex
	var failed []string
	for i, m := range c.members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.addMember(i, m); err != nil {
				mu.Lock()
				failed = append(failed, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("crowd: %s", strings.Join(failed, "; "))
	}
	return c
}

func (c *crowd) addMember(i int, m string) error {
	port := fmt.Sprintf("p%d", i)
	for _, args := range [][]string{
		{"ip", "netns", "add", m},
		{"ip", "-n", c.bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", m},
		{"ip", "-n", c.bridge, "link", "set", port, "master", "br0", "up"},
		{"ip", "-n", m, "addr", "add", c.addr(i) + "/16", "dev", "eth0"},
		{"ip", "-n", m, "link", "set", "eth0", "up"},
		{"ip", "-n", m, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func crowdRun(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// BenchmarkTraceCrowd is a healthy trace between two members of a
// crowded bridge (issue 24: 0.5 s and 64 MiB at 200 ports on a quiet
// machine; scripts/bench-crowd.sh measures the whole process). The two
// are members in the middle of the bridge, whose ports a walk over the
// ports in order meets late. points/op is the capture points opened.
func BenchmarkTraceCrowd(b *testing.B) {
	for _, n := range []int{8, 50, 200} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			c := newCrowd(b, n)
			from, to := c.members[n/2], c.members[n/2+1]
			b.ReportAllocs()
			b.ResetTimer()
			points := 0
			for range b.N {
				b.StopTimer()
				for _, m := range []string{from, to} {
					crowdRun(b, "ip", "-n", m, "neigh", "flush", "dev", "eth0")
				}
				b.StartTimer()
				res, err := Run(context.Background(), Config{From: from, To: to, Count: 3})
				if err != nil {
					b.Fatal(err)
				}
				if !res.OK {
					b.Fatalf("a healthy trace is not ok: %+v", res.Probes)
				}
				points += len(res.Points)
			}
			b.ReportMetric(float64(points)/float64(b.N), "points/op")
		})
	}
}
