package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/trace/facts"
)

// newNamespaces makes n namespaces for a test: named nsdpj-<tag>-<i>, or
// unnamed (held by an `unshare --net` process, shown as pid:N) where
// unnamed[i]. All go when the test ends.
func newNamespaces(t *testing.T, n int, unnamed ...int) []string {
	t.Helper()
	labtest.RequireRoot(t)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, topoSeq.Add(1)&0xff)
	var out, named []string
	t.Cleanup(func() {
		for _, ns := range named {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	for i := range n {
		if slices.Contains(unnamed, i) {
			out = append(out, labtest.NewUnnamed(t).Spec())
			continue
		}
		ns := fmt.Sprintf("nsdpj-%s-%d", tag, i)
		sh(t, "ip", "netns", "add", ns)
		named = append(named, ns)
		out = append(out, ns)
	}
	for _, ns := range out {
		inNS(t, ns, "ip", "link", "set", "lo", "up")
		// No duplicate address detection on the links to come: a router
		// whose link-local address is tentative answers neighbour
		// solicitations only after a second or two.
		inNS(t, ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	return out
}

// inNS runs a command inside ns (a name or pid:N), failing the test on error.
func inNS(t *testing.T, ns string, args ...string) {
	t.Helper()
	sh(t, cmdline.InNamespace(ns, args...)...)
}

// vethBetween joins ns (interface a) to peer (interface b), both up.
func vethBetween(t *testing.T, ns, a, peer, b string) {
	t.Helper()
	target := strings.TrimPrefix(peer, "pid:") // ip link ... netns takes a name or a PID
	inNS(t, ns, "ip", "link", "add", a, "type", "veth", "peer", "name", b, "netns", target)
	inNS(t, ns, "ip", "link", "set", a, "up")
	inNS(t, peer, "ip", "link", "set", b, "up")
}

// newChain builds nodes[0] - nodes[1] - ... - nodes[n-1], routed: node i
// leaves toward B by "tb" (10.98.i.1/24), node i+1 enters by "ta"
// (10.98.i.2/24). A and B have default routes; each router forwards, with
// a route to B's subnet on and one back to A's.
func newChain(t *testing.T, n int, unnamed ...int) []string {
	t.Helper()
	nodes := newNamespaces(t, n, unnamed...)
	last := n - 1
	for i := 0; i < last; i++ {
		vethBetween(t, nodes[i], "tb", nodes[i+1], "ta")
		inNS(t, nodes[i], "ip", "addr", "add", fmt.Sprintf("10.98.%d.1/24", i), "dev", "tb")
		inNS(t, nodes[i+1], "ip", "addr", "add", fmt.Sprintf("10.98.%d.2/24", i), "dev", "ta")
	}
	inNS(t, nodes[0], "ip", "route", "add", "default", "via", "10.98.0.2")
	inNS(t, nodes[last], "ip", "route", "add", "default", "via", fmt.Sprintf("10.98.%d.1", last-1))
	for k := 1; k < last; k++ {
		inNS(t, nodes[k], "sysctl", "-qw", "net.ipv4.ip_forward=1")
		if k < last-1 {
			inNS(t, nodes[k], "ip", "route", "add", fmt.Sprintf("10.98.%d.0/24", last-1), "via", fmt.Sprintf("10.98.%d.2", k))
		}
		if k > 1 {
			inNS(t, nodes[k], "ip", "route", "add", "10.98.0.0/24", "via", fmt.Sprintf("10.98.%d.1", k-1))
		}
	}
	return nodes
}

// chainPath is the path a packet follows along nodes, first to last.
func chainPath(nodes []string, toward string, from string) []facts.Hop {
	var hops []facts.Hop
	for i, ns := range nodes {
		h := facts.Hop{Namespace: ns, In: from, Out: toward, Role: facts.RoleRouter}
		switch i {
		case 0:
			h.In, h.Role = "", facts.RoleSource
		case len(nodes) - 1:
			h.Out, h.Role = "", facts.RoleDestination
		}
		hops = append(hops, h)
	}
	return hops
}

// checkHops compares a path with want, inodes from the namespaces.
func checkHops(t *testing.T, what string, got, want []facts.Hop) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d hops %+v, want %d %+v", what, len(got), got, len(want), want)
		return
	}
	for i := range want {
		ino, err := nsInode(want[i].Namespace)
		if err != nil {
			t.Fatal(err)
		}
		g := got[i]
		if g.Inode != ino {
			t.Errorf("%s hop %d (%s): inode %d, want %d", what, i, g.Namespace, g.Inode, ino)
		}
		g.Inode = 0
		if g != want[i] {
			t.Errorf("%s hop %d: %+v, want %+v", what, i, g, want[i])
		}
	}
}

func familyPath(res *Result, dir string, fam int) *facts.FamilyPath {
	for i, p := range res.Paths {
		if p.Direction == dir && p.Family == fam {
			return &res.Paths[i]
		}
	}
	return nil
}

func allOK(t *testing.T, what string, res *Result) {
	t.Helper()
	for _, p := range res.Probes {
		if !p.OK {
			t.Errorf("%s: %s %s (IPv%d): %s in %s (%s)", what, p.Direction, p.Kind, p.Family, p.Cause, p.Namespace, p.Detail)
		}
	}
	if !res.OK || len(res.Probes) == 0 {
		t.Errorf("%s: ok %v with %d probes, want all ok", what, res.OK, len(res.Probes))
	}
}

// applyFixes runs printed fixes as printed, in a shell, as a user would
// paste them.
func applyFixes(t *testing.T, fixes []string) {
	t.Helper()
	for _, fix := range fixes {
		t.Logf("applying %s", fix)
		if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
			t.Fatalf("the printed fix %q failed: %v\n%s", fix, err, out)
		}
	}
}

// TestPathEightNamespaces: A - R1 - ... - R6 - B, two routers unnamed. The
// healthy trace has all 8 namespaces on each direction's path, in JSON too;
// a fault in the middle is blamed there, and its printed fix, applied,
// makes the retrace all ok.
func TestPathEightNamespaces(t *testing.T) {
	faults := []struct {
		name   string
		at     int // the node broken
		break_ func(t *testing.T, nodes []string)
		want   []pathWant // "R" is the node broken
	}{
		{name: "R4 missing its route back", at: 4, break_: func(t *testing.T, nodes []string) {
			inNS(t, nodes[4], "ip", "route", "del", "10.98.0.0/24")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseNoReturnRoute, "R", []string{"the answer left B on ta", "entered R on tb, never left R", "no route back to 10.98.0.1"}},
			{"A->B", "tcp", facts.CauseNoReturnRoute, "R", []string{"no route back to 10.98.0.1"}},
			{"B->A", "icmp-echo", facts.CauseNoRoute, "R", []string{"entered R on tb, never left R"}},
			{"B->A", "tcp", facts.CauseNoRoute, "R", []string{"entered R on tb, never left R"}},
		}},
		{name: "R3 forwarding off", at: 3, break_: func(t *testing.T, nodes []string) {
			inNS(t, nodes[3], "sysctl", "-qw", "net.ipv4.ip_forward=0")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "R", []string{"entered R on ta, never left R", "forwarding is off in R"}},
			{"A->B", "tcp", facts.CauseDropped, "R", []string{"forwarding is off in R"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "R", []string{"entered R on tb, never left R", "forwarding is off in R"}},
			{"B->A", "tcp", facts.CauseDropped, "R", []string{"forwarding is off in R"}},
		}},
	}
	for _, ft := range faults {
		t.Run(ft.name, func(t *testing.T) {
			nodes := newChain(t, 8, 2, 4) // R2 and R4 have no name
			a, b := nodes[0], nodes[7]
			ab, ba := a+"->"+b, b+"->"+a
			rev := slices.Clone(nodes)
			slices.Reverse(rev)
			trace := func(timeout time.Duration) *Result {
				t.Helper()
				res, err := Run(context.Background(), Config{From: a, To: b, Timeout: timeout})
				if err != nil {
					t.Fatalf("trace: %v", err)
				}
				return res
			}

			res := trace(2 * time.Second)
			allOK(t, "healthy", res)
			checkHops(t, "path "+ab, res.Path[ab], chainPath(nodes, "tb", "ta"))
			checkHops(t, "path "+ba, res.Path[ba], chainPath(rev, "ta", "tb"))
			if p := familyPath(res, ab, 4); p == nil || p.Truncated || len(p.Hops) != 8 {
				t.Errorf("paths: %+v, want %s in IPv4, 8 hops, not truncated", res.Paths, ab)
			}
			js, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Path map[string][]struct {
					Namespace string  `json:"namespace"`
					Inode     uint64  `json:"inode"`
					In        *string `json:"in"`
					Out       *string `json:"out"`
					Role      string  `json:"role"`
				} `json:"path"`
			}
			if err := json.Unmarshal(js, &doc); err != nil {
				t.Fatal(err)
			}
			for _, dir := range []string{ab, ba} {
				hops := doc.Path[dir]
				if len(hops) != 8 || hops[0].Role != "source" || hops[0].In != nil || hops[7].Role != "destination" || hops[7].Out != nil {
					t.Errorf("JSON path %s: %+v, want 8 hops from source (in null) to destination (out null)", dir, hops)
				}
				for i, h := range hops {
					if h.Inode == 0 || (i > 0 && i < 7 && h.Role != "router") {
						t.Errorf("JSON path %s hop %d: %+v, want a router with its inode", dir, i, h)
					}
				}
			}
			if !strings.Contains(string(js), `"namespace":"`+nodes[2]+`"`) || !strings.HasPrefix(nodes[2], "pid:") {
				t.Errorf("unnamed R2 %s not in the JSON path as pid:N", nodes[2])
			}

			ft.break_(t, nodes)
			res = trace(time.Second)
			r := nodes[ft.at]
			letters := strings.NewReplacer("A->B", ab, "B->A", ba, " A ", " "+a+" ", " B ", " "+b+" ", " R ", " "+r+" ")
			var fixes []string
			for _, w := range ft.want {
				dir := letters.Replace(w.direction)
				p := findFamily(res, dir, w.kind, 4)
				if p == nil {
					t.Fatalf("no %s %s probe", dir, w.kind)
				}
				if p.OK || p.Cause != w.cause || p.Namespace != r {
					t.Errorf("%s %s: %s in %s (%s), want %s in %s", dir, w.kind, p.Cause, p.Namespace, p.Detail, w.cause, r)
				}
				for _, d := range w.detail {
					if want := strings.TrimSpace(letters.Replace(" " + d + " ")); !strings.Contains(p.Detail, want) {
						t.Errorf("%s %s: detail %q lacks %q", dir, w.kind, p.Detail, want)
					}
				}
				if p.Fix == "" {
					t.Errorf("%s %s: no fix", dir, w.kind)
				} else if !slices.Contains(fixes, p.Fix) {
					fixes = append(fixes, p.Fix)
				}
			}
			if t.Failed() {
				return
			}
			applyFixes(t, fixes)
			allOK(t, fmt.Sprintf("after %q", fixes), trace(2*time.Second))
		})
	}
}

// TestPathNineNamespaces: one namespace more than a path follows. The
// trace runs (the kernel forwards whatever nsdump follows), and says the
// path goes on past MaxHops namespaces rather than ending it quietly.
func TestPathNineNamespaces(t *testing.T) {
	nodes := newChain(t, 9, 3)
	a, b := nodes[0], nodes[8]
	res, err := Run(context.Background(), Config{From: a, To: b, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	allOK(t, "healthy", res)
	rev := slices.Clone(nodes)
	slices.Reverse(rev)
	for _, c := range []struct {
		dir  string
		want []facts.Hop
	}{{a + "->" + b, chainPath(nodes, "tb", "ta")[:facts.MaxHops]}, {b + "->" + a, chainPath(rev, "ta", "tb")[:facts.MaxHops]}} {
		p := familyPath(res, c.dir, 4)
		if p == nil || !p.Truncated {
			t.Errorf("path %s: %+v, want it marked truncated", c.dir, p)
			continue
		}
		checkHops(t, "path "+c.dir, p.Hops, c.want)
	}
	js, err := json.Marshal(res.Paths)
	if err != nil || strings.Count(string(js), `"truncated":true`) != 2 {
		t.Errorf("paths JSON %s (%v): want both directions truncated", js, err)
	}
	// The namespace past the eighth (R7, next to B) is not followed, yet B
	// is captured: the answers are seen where they arrive.
	for _, p := range res.Probes {
		if p.Kind != facts.KindMTU && !slices.ContainsFunc(p.Seen, func(s decode.Sighting) bool { return strings.HasPrefix(s.Point, b+"/") }) {
			t.Errorf("%s %s: never seen in %s", p.Direction, p.Kind, b)
		}
	}

	// R7 forwards nothing: the last namespace followed toward B is blamed
	// where it is seen to keep the request, and every failed verdict says
	// the path went on past what was followed.
	r7 := nodes[7]
	inNS(t, r7, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	res, err = Run(context.Background(), Config{From: a, To: b, Timeout: time.Second})
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	if p := findFamily(res, a+"->"+b, "icmp-echo", 4); p == nil || p.OK || p.Cause != facts.CauseDropped || p.Namespace != r7 || !strings.Contains(p.Detail, "never left "+r7) {
		t.Errorf("A->B icmp-echo: %+v, want dropped in %s", p, r7)
	}
	for _, p := range res.Probes {
		if !p.OK && !strings.Contains(p.Detail, fmt.Sprintf("beyond the %d namespaces nsdump follows", facts.MaxHops)) {
			t.Errorf("%s %s: detail %q does not say the path was cut", p.Direction, p.Kind, p.Detail)
		}
	}
	if res.OK {
		t.Error("all ok with R7 forwarding nothing")
	}
}

// TestPathPerFamily: A and B joined by two dual-stack routers, IPv4 routed
// through R1 and IPv6 through R2 (unnamed). Each family's path is its own,
// both directions, and every probe passes.
func TestPathPerFamily(t *testing.T) {
	ns := newNamespaces(t, 4, 3)
	a, b, r1, r2 := ns[0], ns[1], ns[2], ns[3]
	vethBetween(t, a, "a1", r1, "r1a")
	vethBetween(t, b, "b1", r1, "r1b")
	vethBetween(t, a, "a2", r2, "r2a")
	vethBetween(t, b, "b2", r2, "r2b")
	for _, c := range []struct{ ns, dev, v4, v6 string }{
		{a, "a1", "10.97.1.2/24", "fd97:1::2/64"}, {r1, "r1a", "10.97.1.1/24", "fd97:1::1/64"},
		{b, "b1", "10.97.2.2/24", "fd97:2::2/64"}, {r1, "r1b", "10.97.2.1/24", "fd97:2::1/64"},
		{a, "a2", "10.97.3.2/24", "fd97:3::2/64"}, {r2, "r2a", "10.97.3.1/24", "fd97:3::1/64"},
		{b, "b2", "10.97.4.2/24", "fd97:4::2/64"}, {r2, "r2b", "10.97.4.1/24", "fd97:4::1/64"},
	} {
		inNS(t, c.ns, "ip", "addr", "add", c.v4, "dev", c.dev)
		inNS(t, c.ns, "ip", "addr", "add", c.v6, "dev", c.dev, "nodad")
	}
	for _, r := range []string{r1, r2} {
		inNS(t, r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		inNS(t, r, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	}
	// IPv4 by R1, IPv6 by R2. The addresses probed are each side's first
	// (on a1 and b1, facing R1): R2 reaches them through the other side.
	inNS(t, a, "ip", "route", "add", "default", "via", "10.97.1.1")
	inNS(t, b, "ip", "route", "add", "default", "via", "10.97.2.1")
	inNS(t, a, "ip", "-6", "route", "add", "default", "via", "fd97:3::1")
	inNS(t, b, "ip", "-6", "route", "add", "default", "via", "fd97:4::1")
	inNS(t, r2, "ip", "-6", "route", "add", "fd97:1::/64", "via", "fd97:3::2")
	inNS(t, r2, "ip", "-6", "route", "add", "fd97:2::/64", "via", "fd97:4::2")

	res, err := Run(context.Background(), Config{From: a, To: b, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	allOK(t, "healthy", res)
	if !slices.ContainsFunc(res.Probes, func(p Probe) bool { return p.Family == 6 }) {
		t.Errorf("no IPv6 probe: %+v", res.Probes)
	}
	path := func(from, out, r, rin, rout, to, in string) []facts.Hop {
		return []facts.Hop{{Namespace: from, Out: out, Role: facts.RoleSource}, {Namespace: r, In: rin, Out: rout, Role: facts.RoleRouter}, {Namespace: to, In: in, Role: facts.RoleDestination}}
	}
	ab, ba := a+"->"+b, b+"->"+a
	for _, c := range []struct {
		dir  string
		fam  int
		want []facts.Hop
	}{
		{ab, 4, path(a, "a1", r1, "r1a", "r1b", b, "b1")},
		{ba, 4, path(b, "b1", r1, "r1b", "r1a", a, "a1")},
		{ab, 6, path(a, "a2", r2, "r2a", "r2b", b, "b2")},
		{ba, 6, path(b, "b2", r2, "r2b", "r2a", a, "a2")},
	} {
		p := familyPath(res, c.dir, c.fam)
		if p == nil || p.Truncated {
			t.Errorf("paths: %+v, want %s in IPv%d", res.Paths, c.dir, c.fam)
			continue
		}
		checkHops(t, fmt.Sprintf("path %s IPv%d", c.dir, c.fam), p.Hops, c.want)
		if c.fam == 4 {
			checkHops(t, "path (first family) "+c.dir, res.Path[c.dir], c.want)
		}
	}
	js, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths []struct {
			Direction string            `json:"direction"`
			Family    int               `json:"family"`
			Hops      []json.RawMessage `json:"hops"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(js, &doc); err != nil || len(doc.Paths) != 4 {
		t.Errorf("JSON paths %+v (%v), want 4: both directions in both families", doc.Paths, err)
	}
}
