package trace

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
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

// interfacePoints are res's capture points that are interfaces (not a
// namespace's kernel drops).
func interfacePoints(res *Result) []string {
	var out []string
	for _, p := range res.Points {
		if _, drops := capture.DropsNamespace(p.Name); !drops {
			out = append(out, p.Name)
		}
	}
	return out
}

// TestCrowdedBridge: a healthy trace between two of 60 members of one
// bridge is ok, captures each end's eth0, the bridge device and the two
// ends' ports, none of the 58 other ports, and reads no other member
// after the probes (issue 24: a socket and a ring per port before).
func TestCrowdedBridge(t *testing.T) {
	c := newCrowd(t, 60)
	from, to := c.members[30], c.members[31]
	res, err := Run(context.Background(), Config{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Probes {
		if !p.OK {
			t.Errorf("%s %s: %s in %s: %s", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
	}
	points := interfacePoints(res)
	want := []string{from + "/eth0", to + "/eth0", c.bridge + "/br0", c.bridge + "/p30", c.bridge + "/p31"}
	slices.Sort(points)
	slices.Sort(want)
	if !slices.Equal(points, want) {
		t.Errorf("capture points %q, want %q", points, want)
	}
	var after []string
	for _, st := range res.Facts.After {
		after = append(after, st.Name)
	}
	if !slices.Equal(after, []string{from, to}) {
		t.Errorf("read after the probes: %q, want only the ends %q", after, []string{from, to})
	}
}

// TestCrowdImpostor: on a bridge of 20 members, member 7 comes to hold
// member 2's address and announces it (a gratuitous ARP, as in
// TestAddressConflict), so member 1's neighbour entry for it holds the
// impostor's MAC. The trace blames the impostor, capturing none of the
// bystanders' ports; and the namespaces read
// after the probes for an address conflict, were the probes ok, are the
// ends and the impostor alone, found through the bridge's FDB.
func TestCrowdImpostor(t *testing.T) {
	c := newCrowd(t, 20)
	a, b, imp := c.members[1], c.members[2], c.members[7]
	crowdRun(t, "ip", "netns", "exec", a, "ping", "-c1", "-W5", c.addr(2))
	crowdRun(t, "ip", "netns", "exec", b, "ping", "-c1", "-W5", c.addr(1))
	const mac = "02:00:5e:97:00:07"
	crowdRun(t, "ip", "netns", "exec", imp, "sysctl", "-qw", "net.ipv4.conf.eth0.arp_notify=1")
	crowdRun(t, "ip", "-n", imp, "addr", "add", c.addr(2)+"/16", "dev", "eth0")
	crowdRun(t, "ip", "-n", imp, "link", "set", "eth0", "address", mac)
	if !eventually(func() bool {
		out, _ := exec.Command("ip", "-n", a, "neigh", "show", c.addr(2), "dev", "eth0").Output()
		return strings.Contains(string(out), mac)
	}) {
		t.Fatalf("the impostor's gratuitous ARP never reached %s's neighbour table", a)
	}
	res, err := Run(context.Background(), Config{From: a, To: b, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Probes {
		if p.Kind != facts.KindMTU && (p.Cause != facts.CauseConflict || p.Namespace != imp || !strings.Contains(p.Detail, mac)) {
			t.Errorf("%s %s: %s in %s: %s; want address-conflict in %s naming %s", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail, imp, mac)
		}
	}
	// The way to B's address goes where A's neighbour entry sends it: to
	// the impostor, whose namespace is on the path and captured.
	points := interfacePoints(res)
	want := []string{a + "/eth0", b + "/eth0", imp + "/eth0", c.bridge + "/br0", c.bridge + "/p1", c.bridge + "/p2", c.bridge + "/p7"}
	slices.Sort(points)
	slices.Sort(want)
	if !slices.Equal(points, want) {
		t.Errorf("capture points %q, want %q", points, want)
	}
	addrs := []netip.Addr{netip.MustParseAddr(c.addr(1)), netip.MustParseAddr(c.addr(2))}
	w := newLiveWorld(topology.NewTargets())
	defer w.close()
	states, gaps := afterStates(w, a, b, false, addrs)
	var read []string
	for _, st := range states {
		read = append(read, st.Name)
	}
	if len(gaps) > 0 || !slices.Equal(read, []string{a, b, imp}) {
		t.Errorf("read for a conflict: %q (gaps %v), want %q", read, gaps, []string{a, b, imp})
	}
}
