package topology

import (
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type ipAddr struct {
	IfName    string   `json:"ifname"`
	OperState string   `json:"operstate"`
	Flags     []string `json:"flags"`
	AddrInfo  []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// addrState summarises `ip -j addr` of a namespace the way setup shapes it.
func addrState(t *testing.T, ns string) []string {
	t.Helper()
	var links []ipAddr
	if err := json.Unmarshal([]byte(ip(t, "-n", ns, "-j", "-4", "addr", "show")), &links); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		for _, a := range l.AddrInfo {
			out = append(out, l.IfName+" "+a.Local+"/"+strconv.Itoa(a.PrefixLen)+" up="+boolStr(slices.Contains(l.Flags, "UP")))
		}
	}
	slices.Sort(out)
	return out
}

func routeState(t *testing.T, ns string) []string {
	t.Helper()
	var routes []struct {
		Dst, Dev, Scope, Protocol string
	}
	if err := json.Unmarshal([]byte(ip(t, "-n", ns, "-j", "-4", "route", "show")), &routes); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range routes {
		out = append(out, r.Dst+" dev "+r.Dev+" scope "+r.Scope+" proto "+r.Protocol)
	}
	slices.Sort(out)
	return out
}

func boolStr(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func TestSetupBuildsTheLabAndIsIdempotent(t *testing.T) {
	l := testLab(t)
	done, err := Setup(l, false)
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	if len(done) == 0 {
		t.Fatal("first setup reported no changes")
	}
	want0 := []string{"lo 127.0.0.1/8 up=yes", l.Veth0 + " " + l.Addr0.String() + " up=yes"}
	want1 := []string{"lo 127.0.0.1/8 up=yes", l.Veth1 + " " + l.Addr1.String() + " up=yes"}
	slices.Sort(want0)
	slices.Sort(want1)
	if got := addrState(t, l.NS0); !slices.Equal(got, want0) {
		t.Errorf("ip -n %s addr: %q, want %q", l.NS0, got, want0)
	}
	if got := addrState(t, l.NS1); !slices.Equal(got, want1) {
		t.Errorf("ip -n %s addr: %q, want %q", l.NS1, got, want1)
	}
	routes0 := routeState(t, l.NS0)
	if len(routes0) != 1 || !strings.HasPrefix(routes0[0], l.Addr0.Masked().String()+" dev "+l.Veth0) {
		t.Errorf("routes in %s before --routes: %q, want only the connected subnet", l.NS0, routes0)
	}

	done, err = Setup(l, false)
	if err != nil || len(done) != 0 {
		t.Fatalf("second setup: done=%q err=%v, want nothing to do", done, err)
	}
	if got := addrState(t, l.NS0); !slices.Equal(got, want0) {
		t.Errorf("after the second setup: %q, want %q", got, want0)
	}

	done, err = Setup(l, true)
	if err != nil || len(done) != 2 {
		t.Fatalf("setup --routes: done=%q err=%v, want the two routes", done, err)
	}
	wantR0 := []string{
		l.Addr0.Masked().String() + " dev " + l.Veth0 + " scope link proto kernel",
		l.Addr1.Masked().String() + " dev " + l.Veth0 + " scope link proto ",
	}
	slices.Sort(wantR0)
	if got := routeState(t, l.NS0); !slices.Equal(got, wantR0) {
		t.Errorf("ip -n %s route: %q, want %q", l.NS0, got, wantR0)
	}
	if done, err = Setup(l, true); err != nil || len(done) != 0 {
		t.Fatalf("setup --routes again: done=%q err=%v", done, err)
	}
	out, err := exec.Command("ip", "netns", "exec", l.NS0, "ping", "-c1", "-W2", l.Addr1.Addr().String()).CombinedOutput()
	if err != nil {
		t.Fatalf("ping %s from %s after setup --routes: %v\n%s", l.Addr1.Addr(), l.NS0, err, out)
	}
}

func TestSetupRefusesConflictsAndChangesNothing(t *testing.T) {
	l := testLab(t)
	if _, err := Setup(l, false); err != nil {
		t.Fatal(err)
	}
	ip(t, "-n", l.NS0, "addr", "add", "172.30.9.9/24", "dev", l.Veth0)
	beforeR := routeState(t, l.NS1)
	_, err := Setup(l, true)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "172.30.9.9/24") || !strings.Contains(err.Error(), l.Veth0) {
		t.Fatalf("setup over a foreign address: %v, want a conflict naming %s and 172.30.9.9/24", err, l.Veth0)
	}
	if got := routeState(t, l.NS1); !slices.Equal(got, beforeR) {
		t.Fatalf("a refused setup changed the routes of %s: %q -> %q", l.NS1, beforeR, got)
	}
}

func TestSetupRefusesVethWithoutPeer(t *testing.T) {
	l := testLab(t)
	if err := CreateNamespace(l.NS1); err != nil {
		t.Fatal(err)
	}
	ip(t, "-n", l.NS1, "link", "add", l.Veth1, "type", "veth", "peer", "name", "lone0")
	_, err := Setup(l, false)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("setup with a lone %s: %v, want a conflict", l.Veth1, err)
	}
	if NamespaceExists(l.NS0) {
		t.Fatalf("a refused setup created %s", l.NS0)
	}
}

// TestTeardownLeavesTheHostAsItWas: teardown removes the lab's
// namespaces, which teardown says it removed, and leaves none of the
// lab's links in the host. It looks only at the names the lab owns:
// other tests make and remove namespaces of their own meanwhile.
func TestTeardownLeavesTheHostAsItWas(t *testing.T) {
	l := testLab(t)
	ours := []string{l.NS0, l.NS1}
	ourLinks := []string{l.Veth0, l.Veth1, "extra0", "extra1"}
	if got := listed(ip(t, "netns", "list"), ours); len(got) != 0 {
		t.Fatalf("before setup, ip netns list has %q", got)
	}
	if got := hostLinks(ip(t, "-o", "link", "show"), ourLinks); len(got) != 0 {
		t.Fatalf("before setup, the host has links %q", got)
	}
	if _, err := Setup(l, true); err != nil {
		t.Fatal(err)
	}
	if got := listed(ip(t, "netns", "list"), ours); !slices.Equal(got, ours) {
		t.Fatalf("after setup, ip netns list has %q of %q", got, ours)
	}
	ip(t, "-n", l.NS1, "link", "add", "extra0", "type", "veth", "peer", "name", "extra1")
	if _, err := Teardown(l, false); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "extra0") {
		t.Fatalf("teardown of a namespace holding extra0: %v, want a refusal naming it", err)
	}
	if !NamespaceExists(l.NS0) || !NamespaceExists(l.NS1) {
		t.Fatal("a refused teardown removed a namespace")
	}
	done, err := Teardown(l, true)
	if want := []string{"ip netns del " + l.NS0, "ip netns del " + l.NS1}; err != nil || !slices.Equal(sorted(done), want) {
		t.Fatalf("teardown --force: done=%q err=%v, want %q", done, err, want)
	}
	if got := listed(ip(t, "netns", "list"), ours); len(got) != 0 {
		t.Errorf("ip netns list after teardown still has %q", got)
	}
	if got := hostLinks(ip(t, "-o", "link", "show"), ourLinks); len(got) != 0 {
		t.Errorf("after teardown, the host has links %q", got)
	}
	if done, err := Teardown(l, false); err != nil || len(done) != 0 {
		t.Fatalf("teardown of nothing: done=%q err=%v", done, err)
	}
}

// listed are the names of `ip netns list` output that are among names,
// in the order of names.
func listed(out string, names []string) []string {
	var have []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			have = append(have, f[0])
		}
	}
	var got []string
	for _, n := range names {
		if slices.Contains(have, n) {
			got = append(got, n)
		}
	}
	return got
}

// hostLinks are the links of `ip -o link show` output named one of
// names ("3: veth0@if2: <...>").
func hostLinks(out string, names []string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if slices.Contains(names, name) {
			got = append(got, name)
		}
	}
	return got
}

// sorted is s sorted, s left as it is.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestInspectFindsVethPeers(t *testing.T) {
	l := testLab(t)
	if _, err := Setup(l, false); err != nil {
		t.Fatal(err)
	}
	ns, err := Inspect(l.NS0)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, i := range ns.Interfaces {
		if i.Name != l.Veth0 {
			continue
		}
		found = true
		if i.Peer == nil || i.Peer.Namespace != l.NS1 || i.Peer.Interface != l.Veth1 {
			t.Errorf("peer of %s: %+v, want %s/%s", l.Veth0, i.Peer, l.NS1, l.Veth1)
		}
		if !i.Up || !i.Carrier || !slices.Contains(i.Addresses, l.Addr0.String()) {
			t.Errorf("%s: %+v, want up with carrier and %s", l.Veth0, i, l.Addr0)
		}
	}
	if !found {
		t.Fatalf("%s not listed in %+v", l.Veth0, ns.Interfaces)
	}
	ip(t, "-n", l.NS1, "link", "set", l.Veth1, "down")
	ns, err = Inspect(l.NS0)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ns.Interfaces {
		if i.Name == l.Veth0 && (i.Carrier || !i.Up) {
			t.Errorf("with its peer down, %s: up=%v carrier=%v; want up without carrier", l.Veth0, i.Up, i.Carrier)
		}
	}
}

func TestOpenNamespaceUnknown(t *testing.T) {
	_, err := OpenNamespace("nsdt-never-created-xyz")
	if !errors.Is(err, ErrNoNamespace) || !strings.Contains(err.Error(), "ip netns list") {
		t.Fatalf("OpenNamespace(unknown) = %v, want ErrNoNamespace pointing at ip netns list", err)
	}
}
