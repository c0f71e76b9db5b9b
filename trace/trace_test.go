package trace

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
)

// testLab builds a lab of the test's own, without routes.
func testLab(t *testing.T) topology.Lab { return labtest.New(t, "tr", false) }

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func nft(t *testing.T, ns string, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ipRouteGet is the first line of `ip -n NS route get DST`, or its error.
func ipRouteGet(ns string, dst string) string {
	out, _ := exec.Command("ip", "-n", ns, "route", "get", dst).CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimRight(line, " ")
}

type want struct {
	direction string
	kind      facts.ProbeKind
	cause     facts.Cause
	namespace string
	fix       string
	detail    string // a part of it
}

func TestFaultMatrix(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(t *testing.T, l topology.Lab)
		cfg    func(l topology.Lab) Config
		want   []want // probes not listed must be ok
		// unfixed says why the printed fixes are not applied and traced
		// again, all ok, as every other case's are.
		unfixed string
	}{
		{name: "healthy", break_: func(t *testing.T, l topology.Lab) { topology.Setup(l, true) }},
		{name: "no routes at all", want: []want{
			{"A->B", "icmp-echo", facts.CauseNoRoute, "A", "ip -n A route replace SUBNET1 dev V0", ""},
			{"A->B", "tcp", facts.CauseNoRoute, "A", "ip -n A route replace SUBNET1 dev V0", ""},
			{"B->A", "icmp-echo", facts.CauseNoRoute, "B", "ip -n B route replace SUBNET0 dev V1", ""},
			{"B->A", "tcp", facts.CauseNoRoute, "B", "ip -n B route replace SUBNET0 dev V1", ""},
		}},
		{name: "route only in A", break_: func(t *testing.T, l topology.Lab) {
			ip(t, "-n", l.NS0, "route", "add", l.Route0().String(), "dev", l.Veth0)
		}, want: []want{
			{"A->B", "icmp-echo", facts.CauseNoReturnRoute, "B", "ip -n B route replace SUBNET0 dev V1", "reached"},
			{"A->B", "tcp", facts.CauseNoReturnRoute, "B", "ip -n B route replace SUBNET0 dev V1", "reached"},
			{"B->A", "icmp-echo", facts.CauseNoRoute, "B", "ip -n B route replace SUBNET0 dev V1", ""},
			{"B->A", "tcp", facts.CauseNoRoute, "B", "ip -n B route replace SUBNET0 dev V1", ""},
		}},
		{name: "route only in B", break_: func(t *testing.T, l topology.Lab) {
			ip(t, "-n", l.NS1, "route", "add", l.Route1().String(), "dev", l.Veth1)
		}, want: []want{
			{"A->B", "icmp-echo", facts.CauseNoRoute, "A", "ip -n A route replace SUBNET1 dev V0", ""},
			{"A->B", "tcp", facts.CauseNoRoute, "A", "ip -n A route replace SUBNET1 dev V0", ""},
			{"B->A", "icmp-echo", facts.CauseNoReturnRoute, "A", "ip -n A route replace SUBNET1 dev V0", "reached"},
			{"B->A", "tcp", facts.CauseNoReturnRoute, "A", "ip -n A route replace SUBNET1 dev V0", "reached"},
		}},
		{name: "veth in B down", break_: func(t *testing.T, l topology.Lab) {
			topology.Setup(l, true)
			ip(t, "-n", l.NS1, "link", "set", l.Veth1, "down")
		}, want: []want{
			// Setting veth1 down also removed B's route back, so the fix restores both.
			{"A->B", "icmp-echo", facts.CauseLinkDown, "B", "ip -n B link set V1 up && ip -n B route replace SUBNET0 dev V1", "routes went down"},
			{"A->B", "tcp", facts.CauseLinkDown, "B", "ip -n B link set V1 up && ip -n B route replace SUBNET0 dev V1", "routes went down"},
			{"B->A", "icmp-echo", facts.CauseLinkDown, "B", "ip -n B link set V1 up && ip -n B route replace SUBNET0 dev V1", "routes went down"},
			{"B->A", "tcp", facts.CauseLinkDown, "B", "ip -n B link set V1 up && ip -n B route replace SUBNET0 dev V1", "routes went down"},
		}},
		{name: "nftables drop in B", break_: func(t *testing.T, l topology.Lab) {
			topology.Setup(l, true)
			nft(t, l.NS1, "add", "table", "inet", "nsdt")
			nft(t, l.NS1, "add", "chain", "inet", "nsdt", "in", "{ type filter hook input priority 0; }")
			nft(t, l.NS1, "add", "rule", "inet", "nsdt", "in", "ip", "saddr", l.Addr0.Addr().String(), "drop")
		}, want: []want{
			{"A->B", "icmp-echo", facts.CauseDropped, "B", "ip netns exec B nft delete rule inet nsdt in handle ", "nftables rule"},
			{"A->B", "tcp", facts.CauseDropped, "B", "ip netns exec B nft delete rule inet nsdt in handle ", "nftables rule"},
			{"B->A", "icmp-echo", facts.CauseDropped, "B", "ip netns exec B nft delete rule inet nsdt in handle ", "nftables rule"},
			{"B->A", "tcp", facts.CauseDropped, "B", "ip netns exec B nft delete rule inet nsdt in handle ", "nftables rule"},
		}},
		{name: "rp_filter in B, route back through another interface", break_: func(t *testing.T, l topology.Lab) {
			topology.Setup(l, true)
			// Past ARP (a permanent entry in A), the echo reaches B, whose route
			// back to A now leaves through another interface: strict reverse-path
			// filtering drops it, and the kernel counts it.
			ip(t, "-n", l.NS1, "link", "add", "rpx0", "type", "veth", "peer", "name", "rpx1")
			ip(t, "-n", l.NS1, "addr", "add", "10.77.0.1/24", "dev", "rpx0")
			ip(t, "-n", l.NS1, "link", "set", "rpx0", "up")
			ip(t, "-n", l.NS1, "link", "set", "rpx1", "up")
			ip(t, "-n", l.NS1, "route", "replace", l.Route1().String(), "dev", "rpx0")
			if out, err := exec.Command("ip", "netns", "exec", l.NS1, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1").CombinedOutput(); err != nil {
				t.Fatalf("sysctl: %v %s", err, out)
			}
			ns1, _ := topology.Inspect(l.NS1)
			for _, ifc := range ns1.Interfaces {
				if ifc.Name == l.Veth1 {
					ip(t, "-n", l.NS0, "neigh", "replace", l.Addr1.Addr().String(), "lladdr", ifc.MAC, "dev", l.Veth0, "nud", "permanent")
				}
			}
		}, want: []want{
			{"A->B", "icmp-echo", facts.CauseDropped, "B", "", "TcpExt:IPReversePathFilter +"},
			{"A->B", "tcp", facts.CauseDropped, "B", "", "strict rp_filter"},
			// B's own route back leaves by rpx0, whose peer is in B itself.
			{"B->A", "icmp-echo", facts.CauseWrongRoute, "B", "ip -n B route replace SUBNET0 dev V1", "leaves by rpx0"},
			{"B->A", "tcp", facts.CauseWrongRoute, "B", "ip -n B route replace SUBNET0 dev V1", "ARP for the next hop was seen leaving on rpx0"},
		}},
		{name: "closed port without listener", break_: func(t *testing.T, l topology.Lab) { topology.Setup(l, true) },
			cfg: func(l topology.Lab) Config { return Config{NoListen: true, Port: 7} },
			want: []want{
				{"A->B", "tcp", facts.CausePortClosed, "B", "ip netns exec B nc -l 7", "reset"},
				{"B->A", "tcp", facts.CausePortClosed, "A", "ip netns exec A nc -l 7", "reset"},
			},
			unfixed: "the fix starts a listener that runs until it is stopped (and nc is not installed here); TestBusyPort traces a port something listens on"},
		{name: "address nobody owns", break_: func(t *testing.T, l topology.Lab) { topology.Setup(l, true) },
			cfg: func(l topology.Lab) Config {
				a := l.Addr1.Addr().As4()
				a[3] = 99
				return Config{ToAddr: netip.AddrFrom4(a)}
			},
			want: []want{
				{"A->B", "icmp-echo", facts.CauseNeighbor, "A", "", "no interface"},
				{"A->B", "tcp", facts.CauseNeighbor, "A", "", "no interface"},
			},
			unfixed: "the target is an address no namespace has: no fix is printed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testLab(t)
			if tt.break_ != nil {
				tt.break_(t, l)
			}
			cfg := Config{}
			if tt.cfg != nil {
				cfg = tt.cfg(l)
			}
			// The probes that must succeed end as soon as their answers are
			// in; the timeout only bounds the failing ones, and is generous so
			// that a loaded machine's late goroutines still count as in time.
			cfg.From, cfg.To, cfg.Timeout = l.NS0, l.NS1, 2*time.Second
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("trace: %v", err)
			}
			names := strings.NewReplacer("A->B", l.NS0+"->"+l.NS1, "B->A", l.NS1+"->"+l.NS0,
				"ip -n A", "ip -n "+l.NS0, "ip -n B", "ip -n "+l.NS1, "exec A", "exec "+l.NS0, "exec B", "exec "+l.NS1,
				"SUBNET0HOST", l.Addr0.Addr().String(), "SUBNET0", l.Addr0.Masked().String(), "SUBNET1", l.Addr1.Masked().String(), "V0", l.Veth0, "V1", l.Veth1)
			ns := map[string]string{"A": l.NS0, "B": l.NS1}
			checked := map[string]bool{}
			var fixes []string
			for _, w := range tt.want {
				key := names.Replace(w.direction) + " " + string(w.kind)
				checked[key] = true
				p := find(res, names.Replace(w.direction), w.kind)
				if p == nil {
					t.Fatalf("no %s probe in %+v", key, res.Probes)
				}
				if p.OK || p.Cause != w.cause || p.Namespace != ns[w.namespace] || !fixMatches(p.Fix, names.Replace(w.fix)) ||
					!strings.Contains(p.Detail, names.Replace(w.detail)) {
					t.Errorf("%s: ok=%v cause %q in %q, fix %q, detail %q; want %s in %s, fix %q, detail with %q",
						key, p.OK, p.Cause, p.Namespace, p.Fix, p.Detail, w.cause, ns[w.namespace], names.Replace(w.fix), w.detail)
				}
				if p.Fix != "" && !slices.Contains(fixes, p.Fix) {
					fixes = append(fixes, p.Fix)
				}
				if p.RouteGet == nil || p.RouteGet.Namespace != p.Namespace {
					t.Errorf("%s: route lookup %+v, want one done in %s", key, p.RouteGet, p.Namespace)
					continue
				}
				dst := strings.Fields(p.RouteGet.Command)[len(strings.Fields(p.RouteGet.Command))-1]
				if got := ipRouteGet(p.RouteGet.Namespace, dst); got != p.RouteGet.Output {
					t.Errorf("%s: route lookup says %q, ip route get says %q", key, p.RouteGet.Output, got)
				}
			}
			for _, p := range res.Probes {
				if !checked[p.Direction+" "+string(p.Kind)] && (!p.OK || p.Cause != facts.CauseOK) {
					t.Errorf("%s %s: %s in %s (%s), want ok", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
				}
			}
			if res.OK != (len(tt.want) == 0) {
				t.Errorf("result ok=%v with %d expected failures", res.OK, len(tt.want))
			}
			stayedInside(t, res, l)
			if *update && !t.Failed() {
				record(t, "lab "+tt.name, res)
			}
			if t.Failed() || len(tt.want) == 0 {
				return
			}
			if tt.unfixed != "" {
				t.Logf("fixes %q not applied: %s", fixes, tt.unfixed)
				return
			}
			applyFixes(t, fixes)
			again, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("trace after the fixes: %v", err)
			}
			allOK(t, fmt.Sprintf("after %q", fixes), again)
		})
	}
}

func find(res *Result, direction string, kind facts.ProbeKind) *Probe {
	for i := range res.Probes {
		if res.Probes[i].Direction == direction && res.Probes[i].Kind == kind {
			return &res.Probes[i]
		}
	}
	return nil
}

// stayedInside: every IPv4 packet the trace caused and saw on an interface
// stays between the two namespaces' subnets (or is link-local multicast
// housekeeping).
func stayedInside(t *testing.T, res *Result, l topology.Lab) {
	t.Helper()
	d := decode.NewDecoder()
	var p decode.Packet
	for _, f := range res.Frames {
		if strings.HasSuffix(res.Points[f.Point].Name, "/drops") {
			continue // a packet the kernel dropped inside a namespace went nowhere
		}
		d.Decode(f, &p)
		for _, a := range []netip.Addr{p.Src, p.Dst} {
			if !a.Is4() || a.IsMulticast() || a.IsUnspecified() {
				continue
			}
			if !l.Addr0.Masked().Contains(a) && !l.Addr1.Masked().Contains(a) {
				t.Errorf("a packet to or from %s left the lab: %s", a, decode.AppendSummary(nil, &p))
			}
		}
	}
}

// TestTraceLeavesNothingBehind: no file descriptor, goroutine or listener
// outlives a trace, and the port is free again.
func TestTraceLeavesNothingBehind(t *testing.T) {
	l := testLab(t)
	topology.Setup(l, true)
	// Healthy: it ends at the last answer; the timeout only bounds a failure.
	cfg := Config{From: l.NS0, To: l.NS1, Port: 7099, Timeout: 5 * time.Second}
	if _, err := Run(context.Background(), cfg); err != nil { // warm up lazily created state
		t.Fatal(err)
	}
	fds, goroutines := countFDs(t), runtime.NumGoroutine()
	for i := 0; i < 3; i++ {
		res, err := Run(context.Background(), cfg)
		if err != nil || !res.OK {
			t.Fatalf("healthy trace %d: ok=%v err=%v", i, res != nil && res.OK, err)
		}
	}
	// What a trace closes on its way out may take a moment to go: wait for
	// the counts to come back down, failing only after a generous bound.
	var gotFDs, gotGoroutines int
	settled := eventually(func() bool {
		gotFDs, gotGoroutines = countFDs(t), runtime.NumGoroutine()
		return gotFDs <= fds && gotGoroutines <= goroutines
	})
	if !settled {
		t.Errorf("after three traces: %d file descriptors (%d before), %d goroutines (%d before)", gotFDs, fds, gotGoroutines, goroutines)
	}
	for _, ns := range []string{l.NS0, l.NS1} {
		h, err := topology.OpenNamespace(ns)
		if err != nil {
			t.Fatal(err)
		}
		lst, err := listenIn(h, 4, cfg.Port)
		h.Close()
		if err != nil {
			t.Fatalf("port %d still taken in %s after the trace: %v", cfg.Port, ns, err)
		}
		lst.Close()
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// eventually polls cond until it holds, for at most 30 s: a bound for a
// failure on a loaded machine, not a timing requirement.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}
