package topology

import (
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// ipRouteGet runs `ip -n NS route get ARGS` and returns its first line (or
// its error text) without the trailing blank iproute2 prints.
func ipRouteGet(t *testing.T, ns string, args ...string) (string, bool) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns, "route", "get"}, args...)...).CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimRight(line, " "), err == nil
}

// routeGetCase is one lookup asked of nsdump (q) and of ip route get (args).
type routeGetCase struct {
	name string
	ns   string
	q    RouteQuery
	args []string
}

// checkRouteGets asks every case of both and fails a subtest where the
// answers differ; at least wantFailures lookups must fail at this stage.
func checkRouteGets(t *testing.T, stage string, cases []routeGetCase, wantFailures int) {
	t.Helper()
	failures := 0
	for _, tt := range cases {
		t.Run(stage+"/"+tt.name, func(t *testing.T) {
			want, ok := ipRouteGet(t, tt.ns, tt.args...)
			res, err := RouteGet(tt.ns, tt.q)
			var rerr *RouteError
			switch {
			case ok && err != nil:
				t.Fatalf("ip says %q, nsdump fails: %v", want, err)
			case ok && res.Line != want:
				t.Fatalf("nsdump %q, ip %q", res.Line, want)
			case !ok && !errors.As(err, &rerr):
				t.Fatalf("ip fails with %q, nsdump: %v %v", want, res, err)
			case !ok && rerr.Error() != want:
				t.Fatalf("nsdump error %q, ip %q", rerr.Error(), want)
			}
			if !ok {
				failures++
			}
		})
	}
	if failures < wantFailures {
		t.Errorf("%s: %d lookups failed, want at least %d", stage, failures, wantFailures)
	}
}

func TestRouteGetMatchesIproute2(t *testing.T) {
	l := testLab(t)
	if _, err := Setup(l, false); err != nil {
		t.Fatal(err)
	}
	a0, a1 := l.Addr0.Addr(), l.Addr1.Addr()
	bcast := netip.AddrFrom4([4]byte{a0.As4()[0], a0.As4()[1], a0.As4()[2], 255})
	queries := []routeGetCase{
		{"remote", l.NS0, RouteQuery{Dst: a1}, []string{a1.String()}},
		{"local", l.NS0, RouteQuery{Dst: a0}, []string{a0.String()}},
		{"loopback", l.NS0, RouteQuery{Dst: netip.MustParseAddr("127.0.0.1")}, []string{"127.0.0.1"}},
		{"broadcast", l.NS0, RouteQuery{Dst: bcast}, []string{bcast.String()}},
		{"from", l.NS0, RouteQuery{Dst: a1, From: a0}, []string{a1.String(), "from", a0.String()}},
		{"return", l.NS1, RouteQuery{Dst: a0}, []string{a0.String()}},
		{"iif local", l.NS0, RouteQuery{Dst: a0, From: a1, Iif: l.Veth0}, []string{a0.String(), "from", a1.String(), "iif", l.Veth0}},
		{"iif forward", l.NS1, RouteQuery{Dst: a0, From: a1, Iif: l.Veth1}, []string{a0.String(), "from", a1.String(), "iif", l.Veth1}},
		{"iif no source", l.NS0, RouteQuery{Dst: a1, Iif: l.Veth0}, []string{a1.String(), "iif", l.Veth0}},
	}
	// Without routes the remote subnet is unreachable from both sides.
	checkRouteGets(t, "without routes", queries, 3)
	res, err := RouteGet(l.NS0, RouteQuery{Dst: a1})
	var rerr *RouteError
	if !errors.As(err, &rerr) || rerr.Errno != syscall.ENETUNREACH || rerr.Error() != "RTNETLINK answers: Network is unreachable" {
		t.Fatalf("route get %s in %s without routes: %v %v", a1, l.NS0, res, err)
	}
	if _, err := Setup(l, true); err != nil {
		t.Fatal(err)
	}
	checkRouteGets(t, "with routes", queries, 1)
	res, err = RouteGet(l.NS0, RouteQuery{Dst: a1})
	if err != nil || res.Dev != l.Veth0 || res.Src != a0.String() {
		t.Fatalf("route get %s with routes: %+v %v", a1, res, err)
	}
}
