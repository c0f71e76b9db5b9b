package trace

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
)

// sixLab is a test lab with IPv6 prefixes: IPv6 only, or both families.
func sixLab(t *testing.T, dual bool) topology.Lab {
	l := labtest.Names(t, "ns")
	n := l.Addr0.Addr().As4()[2]
	p0 := netip.MustParsePrefix(fmt.Sprintf("fd00:%x:a::1/64", n))
	p1 := netip.MustParsePrefix(fmt.Sprintf("fd00:%x:b::1/64", n))
	if dual {
		l.Extra0, l.Extra1 = []netip.Prefix{p0}, []netip.Prefix{p1}
	} else {
		l.Addr0, l.Addr1 = p0, p1
	}
	if _, err := topology.Setup(l, false); err != nil {
		t.Fatal(err)
	}
	return l
}

func probeOf(res *Result, direction string, kind facts.ProbeKind, family int) *Probe {
	for i, p := range res.Probes {
		if p.Direction == direction && p.Kind == kind && p.Family == family {
			return &res.Probes[i]
		}
	}
	return nil
}

// ip6RouteGet is the first line of `ip -n NS -6 route get DST`, or its error.
func ip6RouteGet(ns, dst string) string {
	out, _ := exec.Command("ip", "-n", ns, "-6", "route", "get", dst).CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimRight(line, " ")
}

// TestTraceIPv6 traces an IPv6-only and a dual-stack lab: healthy, no
// route, no return route. Every IPv6 verdict's route lookup is the text of
// `ip -6 route get`, and every printed fix, applied, makes the next trace
// all ok.
func TestTraceIPv6(t *testing.T) {
	for _, dual := range []bool{false, true} {
		t.Run(fmt.Sprintf("dual=%v", dual), func(t *testing.T) {
			l := sixLab(t, dual)
			v6a, v6b := l.Addrs0()[len(l.Addrs0())-1], l.Addrs1()[len(l.Addrs1())-1]
			ab, ba := l.NS0+"->"+l.NS1, l.NS1+"->"+l.NS0
			trace := func() *Result {
				t.Helper()
				res, err := Run(context.Background(), Config{From: l.NS0, To: l.NS1, Timeout: 2 * time.Second, Count: 2}) // generous: a loaded machine
				if err != nil {
					t.Fatalf("trace: %v", err)
				}
				families := map[int]bool{}
				for _, p := range res.Probes {
					families[p.Family] = true
				}
				if !families[6] || families[4] != dual {
					t.Fatalf("probed families %v, want IPv6 (and IPv4 when dual)", families)
				}
				return res
			}
			check := func(res *Result, dir string, cause facts.Cause, ns, fix string) {
				t.Helper()
				for _, kind := range []facts.ProbeKind{"icmp6-echo", "tcp"} {
					p := probeOf(res, dir, kind, 6)
					if p == nil {
						t.Fatalf("no %s %s probe", dir, kind)
					}
					if p.OK || p.Cause != cause || p.Namespace != ns || p.Fix != fix {
						t.Errorf("%s %s: ok=%v %s in %s fix %q (%s); want %s in %s fix %q", dir, kind, p.OK, p.Cause, p.Namespace, p.Fix, p.Detail, cause, ns, fix)
					}
					f := strings.Fields(p.RouteGet.Command)
					if want := ip6RouteGet(p.RouteGet.Namespace, f[len(f)-1]); p.RouteGet == nil || p.RouteGet.Output != want || !strings.Contains(p.RouteGet.Command, " -6 route get ") {
						t.Errorf("%s %s: route lookup %+v, ip -6 route get says %q", dir, kind, p.RouteGet, want)
					}
				}
			}
			fixA := fmt.Sprintf("ip -n %s -6 route replace %s dev %s", l.NS0, v6b.Masked(), l.Veth0)
			fixB := fmt.Sprintf("ip -n %s -6 route replace %s dev %s", l.NS1, v6a.Masked(), l.Veth1)

			res := trace() // no routes at all
			check(res, ab, facts.CauseNoRoute, l.NS0, fixA)
			check(res, ba, facts.CauseNoRoute, l.NS1, fixB)

			apply(t, fixA) // a route in A only: B has no return route
			res = trace()
			check(res, ab, facts.CauseNoReturnRoute, l.NS1, fixB)
			check(res, ba, facts.CauseNoRoute, l.NS1, fixB)

			apply(t, fixB)
			if dual {
				for _, c := range l.RouteCommands() {
					if !strings.Contains(c, " -6 ") {
						apply(t, c)
					}
				}
			}
			res = trace()
			for _, p := range res.Probes {
				if !p.OK {
					t.Errorf("healthy: %s %s (IPv%d): %s in %s: %s", p.Direction, p.Kind, p.Family, p.Cause, p.Namespace, p.Detail)
				}
			}
			if res.To.Address != l.Addr1.Addr().String() || len(res.To.Addresses) != len(l.Addrs1()) {
				t.Errorf("probed %s %v, want %s first", res.To.Address, res.To.Addresses, l.Addr1.Addr())
			}
		})
	}
}

func apply(t *testing.T, cmd string) {
	t.Helper()
	f := strings.Fields(cmd)
	if out, err := exec.Command(f[0], f[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// TestAddressChoice: B has two addresses on its veth, and A has a route to
// the second only. Trace probes the one A's route reaches (as ping does),
// not the first; --to and --from choose explicitly.
func TestAddressChoice(t *testing.T) {
	l := labtest.Names(t, "ns")
	n := l.Addr0.Addr().As4()[2]
	l.Extra1 = []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.201.%d.20/24", n))}
	if _, err := topology.Setup(l, false); err != nil {
		t.Fatal(err)
	}
	ip(t, "-n", l.NS0, "route", "add", l.Extra1[0].Masked().String(), "dev", l.Veth0)
	ip(t, "-n", l.NS1, "route", "add", l.Addr0.Masked().String(), "dev", l.Veth1)
	res, err := Run(context.Background(), Config{From: l.NS0, To: l.NS1, Count: 2, Timeout: 5 * time.Second}) // healthy: ends at the last answer
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.To.Address != l.Extra1[0].Addr().String() || res.From.Address != l.Addr0.Addr().String() {
		t.Errorf("trace probed %s <-> %s ok=%v, want %s <-> %s all ok: %+v", res.From.Address, res.To.Address, res.OK, l.Addr0.Addr(), l.Extra1[0].Addr(), res.Probes)
	}
	// --to the first address: no route to it from A, as ip route get says.
	res, err = Run(context.Background(), Config{From: l.NS0, To: l.NS1, ToAddr: l.Addr1.Addr(), Count: 1, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if p := probeOf(res, l.NS0+"->"+l.NS1, "icmp-echo", 4); p == nil || p.Cause != facts.CauseNoRoute {
		t.Errorf("--to %s: %+v, want no-route", l.Addr1.Addr(), p)
	}
	// --from an address A does not have is refused.
	if _, err := Run(context.Background(), Config{From: l.NS0, To: l.NS1, FromAddr: l.Addr1.Addr()}); err == nil || !strings.Contains(err.Error(), "not an address of") {
		t.Errorf("--from B's address: %v, want a refusal", err)
	}
}

// TestBusyPort: a service already listens on 7096 in B (dual-stack, as
// most servers). The trace probes it as it is, says who listens, and is all
// ok; it starts its own listener only in A.
func TestBusyPort(t *testing.T) {
	l := sixLab(t, true)
	if _, err := topology.Setup(l, true); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("ip", "netns", "exec", l.NS1, "python3", "-c", `
import socket
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 7096))
s.listen(16)
while True:
    c, _ = s.accept()
    c.close()
`)
	if err := srv.Start(); err != nil {
		t.Fatalf("python3 listener: %v", err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	if !eventually(func() bool {
		text, _ := topology.ProcNetFile(l.NS1, "tcp6")
		_, _, ok := listening(text, 7096, tcpListen)
		return ok
	}) {
		t.Fatal("the python3 listener never listened")
	}
	res, err := Run(context.Background(), Config{From: l.NS0, To: l.NS1, Count: 2, Timeout: 5 * time.Second}) // healthy: ends at the last answer
	if err != nil {
		t.Fatalf("trace with a busy port: %v", err)
	}
	if !res.OK {
		t.Errorf("trace with a busy port is not all ok: %+v", res.Probes)
	}
	for _, fam := range []int{4, 6} {
		p := probeOf(res, l.NS0+"->"+l.NS1, "tcp", fam)
		if p == nil || p.Listener == nil || p.Listener.PID != srv.Process.Pid || !strings.HasPrefix(p.Listener.Comm, "python") ||
			!strings.Contains(p.Detail, fmt.Sprintf("pid %d %s", srv.Process.Pid, p.Listener.Comm)) {
			t.Errorf("IPv%d tcp to the busy port: %+v, want the listener named (pid %d python3)", fam, p, srv.Process.Pid)
		}
		if back := probeOf(res, l.NS1+"->"+l.NS0, "tcp", fam); back == nil || back.Listener != nil || back.Delivered == nil || !*back.Delivered {
			t.Errorf("IPv%d tcp back into A: %+v, want nsdump's own listener and the message delivered", fam, back)
		}
	}
}
