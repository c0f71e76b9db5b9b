package topology

import (
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

// lookupLab: two veths in one namespace, a table per uplink, and a rule for
// every selector; main has no default route.
func lookupLab(t *testing.T) Held {
	ns := ksNamespace(t)
	ipn := func(args ...string) { run(t, "ip", append([]string{"-n", ns.Name}, args...)...) }
	ipn("link", "add", "u0", "type", "veth", "peer", "name", "u0p")
	ipn("link", "add", "u1", "type", "veth", "peer", "name", "u1p")
	for _, l := range []string{"u0", "u0p", "u1", "u1p"} {
		ipn("link", "set", l, "up")
	}
	ipn("addr", "add", "10.77.0.1/24", "dev", "u0")
	ipn("addr", "add", "10.77.1.1/24", "dev", "u1")
	ipn("route", "add", "default", "via", "10.77.0.2", "dev", "u0", "table", "100")
	ipn("route", "add", "default", "via", "10.77.1.2", "dev", "u1", "table", "200")
	ipn("route", "add", "default", "via", "10.77.1.3", "dev", "u1", "table", "300")
	ipn("rule", "add", "pref", "100", "fwmark", "0x5", "lookup", "100")
	ipn("rule", "add", "pref", "110", "uidrange", "1000-1000", "lookup", "200")
	ipn("rule", "add", "pref", "120", "from", "10.77.1.1", "lookup", "200")
	ipn("rule", "add", "pref", "130", "iif", "u1p", "lookup", "100")
	ipn("rule", "add", "pref", "140", "tos", "0x10", "lookup", "300")
	ipn("rule", "add", "pref", "150", "tos", "0x08", "prohibit")
	ipn("rule", "add", "pref", "160", "oif", "u1", "lookup", "200")
	ipn("rule", "add", "pref", "170", "fwmark", "0x9/0xf", "goto", "200")
	ipn("rule", "add", "pref", "200", "fwmark", "0x9/0xf", "lookup", "300")
	ipn("route", "add", "unreachable", "192.0.2.0/24", "table", "400")
	ipn("route", "add", "default", "via", "10.77.0.2", "dev", "u0", "table", "400")
	ipn("rule", "add", "pref", "210", "fwmark", "0x40", "lookup", "400")
	ipn("rule", "add", "pref", "190", "lookup", "main", "suppress_prefixlength", "0")
	inNS(t, ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return ns
}

func TestRouteLookupSelectors(t *testing.T) {
	ns := lookupLab(t)
	dst := netip.MustParseAddr("192.0.2.9")
	uid := uint32(1000)
	tests := []struct {
		name  string
		q     LookupQuery
		words []string // after `ip route get 192.0.2.9`
		table string   // the table a fix must go into
		rule  int      // the deciding rule's priority; -1 none
	}{
		{"fwmark", LookupQuery{Mark: 5}, []string{"mark", "5"}, "100", 100},
		{"uid", LookupQuery{UID: &uid}, []string{"uid", "1000"}, "200", 110},
		{"source", LookupQuery{Src: netip.MustParseAddr("10.77.1.1")}, []string{"from", "10.77.1.1"}, "200", 120},
		{"iif", LookupQuery{Src: netip.MustParseAddr("10.77.1.9"), Iif: "u1p"}, []string{"from", "10.77.1.9", "iif", "u1p"}, "100", 130},
		{"tos", LookupQuery{TOS: 0x10}, []string{"tos", "0x10"}, "300", 140},
		{"prohibit", LookupQuery{TOS: 0x08}, []string{"tos", "0x08"}, "", 150},
		{"oif", LookupQuery{Oif: "u1"}, []string{"oif", "u1"}, "200", 160},
		{"goto", LookupQuery{Mark: 0x19}, []string{"mark", "0x19"}, "300", 200},
		{"no route", LookupQuery{}, nil, "main", -1},
		{"unreachable route in 400", LookupQuery{Mark: 0x40}, []string{"mark", "0x40"}, "400", 210},
	}
	rules := ruleLines(t, ns, "-4")
	if l, _ := RouteLookup(ns, LookupQuery{Dst: dst}); l == nil || len(l.Passed) < 2 || l.Passed[1].String() != rules[190] {
		t.Errorf("passed %+v; want rule 190 second, as ip rule says %q", l, rules[190])
	}
	if l, _ := RouteLookup(ns, LookupQuery{Dst: dst, Mark: 0x40}); l == nil || l.Refusal == nil || l.Refusal.String() != "unreachable 192.0.2.0/24" {
		t.Errorf("refusal %+v; want the unreachable route of table 400", l)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Dst = dst
			l, err := RouteLookup(ns, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstIP(t, ns, l, append([]string{"route", "get", dst.String()}, tt.words...))
			if got := l.FixTable(); got != tt.table {
				t.Errorf("FixTable = %q, want %q", got, tt.table)
			}
			switch {
			case tt.rule < 0 && l.Rule != nil:
				t.Errorf("rule %v decided; want none", l.Rule)
			case tt.rule >= 0 && l.Rule == nil:
				t.Fatalf("no rule decided; want %d (passed %v)", tt.rule, l.Passed)
			case tt.rule >= 0 && l.Rule.String() != rules[tt.rule]:
				t.Errorf("rule %q, ip rule says %q", l.Rule, rules[tt.rule])
			}
		})
	}
}

// checkAgainstIP runs `ip -n NS WORDS` and compares its answer with l:
// the same device, gateway and table, or the same error.
func checkAgainstIP(t *testing.T, ns Held, l *nsstate.Lookup, words []string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns.Name}, words...)...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err != nil {
		if l.Route != nil || l.Error != text {
			t.Fatalf("ip says %q; RouteLookup answered %+v error %q", text, l.Route, l.Error)
		}
		if !errors.Is(syscall.Errno(l.Errno), syscall.Errno(l.Errno)) || l.Errno == 0 {
			t.Errorf("errno %d", l.Errno)
		}
		return
	}
	if l.Route == nil {
		t.Fatalf("ip says %q; RouteLookup refused: %s", text, l.Error)
	}
	f := strings.Fields(text)
	want := map[string]string{"dev": "", "via": "", "table": "main"}
	for i := 0; i+1 < len(f); i++ {
		if _, ok := want[f[i]]; ok {
			want[f[i]] = f[i+1]
		}
	}
	if l.Route.Dev != want["dev"] || l.Route.Gateway != want["via"] || nsstate.TableWord(l.Table) != want["table"] {
		t.Errorf("ip says %q; RouteLookup: dev %q via %q table %s", text, l.Route.Dev, l.Route.Gateway, nsstate.TableWord(l.Table))
	}
}

// ruleLines is `ip rule` by priority.
func ruleLines(t *testing.T, ns Held, family string) map[int]string {
	t.Helper()
	m := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "ip", "-n", ns.Name, family, "rule")), "\n") {
		var prio int
		if _, err := fmtSscan(line, &prio); err == nil {
			m[prio] = strings.TrimRight(line, " ")
		}
	}
	return m
}

func TestRouteLookupIPv6(t *testing.T) {
	ns := lookupLab(t)
	ipn := func(args ...string) { run(t, "ip", append([]string{"-n", ns.Name}, args...)...) }
	ipn("addr", "add", "fd77::1/64", "dev", "u0", "nodad")
	ipn("-6", "route", "add", "default", "via", "fd77::2", "dev", "u0", "table", "100")
	ipn("-6", "rule", "add", "pref", "90", "fwmark", "0x7", "lookup", "100")
	q := LookupQuery{Dst: netip.MustParseAddr("2001:db8::1"), Mark: 7}
	l, err := RouteLookup(ns, q)
	if err != nil {
		t.Fatal(err)
	}
	checkAgainstIP(t, ns, l, []string{"route", "get", "2001:db8::1", "mark", "7"})
	if rules := ruleLines(t, ns, "-6"); l.Rule == nil || l.Rule.String() != rules[90] {
		t.Errorf("rule %v, ip -6 rule says %q", l.Rule, rules[90])
	}
	if got := strings.Join(l.FixArgs(), " "); got != "table 100" {
		t.Errorf("FixArgs = %q", got)
	}
}

func TestRouteLookupUnreadable(t *testing.T) {
	ns := ksNamespace(t)
	_, err := RouteLookup(ns, LookupQuery{Dst: netip.MustParseAddr("192.0.2.1"), Iif: "nosuchif"})
	var u *Unreadable
	if !errors.As(err, &u) || u.Namespace != ns.Name {
		t.Fatalf("err = %v; want an Unreadable naming %s", err, ns.Name)
	}
	bad := []LookupQuery{
		{},
		{Dst: netip.MustParseAddr("192.0.2.1"), Oif: "a/b"},
		{Dst: netip.MustParseAddr("192.0.2.1"), Src: netip.MustParseAddr("fd00::1")},
	}
	for _, q := range bad {
		if _, err := RouteLookup(ns, q); err == nil || errors.As(err, &u) {
			t.Errorf("%+v: err = %v; want a usage error, not Unreadable", q, err)
		}
	}
}
