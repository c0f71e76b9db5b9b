package trace

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
)

var update = flag.Bool("update", false, "rewrite testdata/facts from live traces")

// topo is three namespaces: A and B joined through M, a bridge or a router.
type topo struct {
	A, B, M string // M may be pid:N
	kind    string // bridge or router
	// addresses of A and B, and M's on each side (router)
	addrA, addrB, mA, mB string
	// toAddr, when a break sets it, is the address of B the traces probe
	// (trace --to).
	toAddr netip.Addr
	// fromAddr, when a break sets it, is A's address (trace --from).
	fromAddr netip.Addr
}

var topoSeq atomic.Int32

// run runs a command, failing the test on error.
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// in runs a command inside a namespace of the topology.
func (tp *topo) in(t *testing.T, ns string, args ...string) {
	t.Helper()
	sh(t, cmdline.InNamespace(ns, args...)...)
}

// newTopoPrefix builds A - M - B, namespaces named nsdPREFIX-...; M is
// unnamed (held by a process) when unnamed is set. Everything goes when
// the test ends.
func newTopoPrefix(t *testing.T, prefix, kind string, unnamed, v6 bool) *topo {
	t.Helper()
	labtest.RequireRoot(t)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, topoSeq.Add(1)&0xff)
	tp := &topo{A: "nsd" + prefix + "-a" + tag, B: "nsd" + prefix + "-b" + tag, M: "nsd" + prefix + "-m" + tag, kind: kind}
	names := []string{tp.A, tp.B}
	if unnamed {
		tp.M = labtest.NewUnnamed(t).Spec()
	} else {
		names = append(names, tp.M)
	}
	t.Cleanup(func() {
		for _, n := range names {
			exec.Command("ip", "netns", "del", n).Run()
		}
	})
	for _, n := range names {
		sh(t, "ip", "netns", "add", n)
	}
	mTarget := tp.M
	if unnamed {
		mTarget = strings.TrimPrefix(tp.M, "pid:")
	}
	sh(t, "ip", "-n", tp.A, "link", "add", "a0", "type", "veth", "peer", "name", "pa", "netns", mTarget)
	sh(t, "ip", "-n", tp.B, "link", "add", "b0", "type", "veth", "peer", "name", "pb", "netns", mTarget)
	if kind == "bridge" {
		tp.addrA, tp.addrB = "10.95.0.1", "10.95.0.2"
		tp.in(t, tp.M, "ip", "link", "add", "br0", "type", "bridge")
		tp.in(t, tp.M, "ip", "link", "set", "pa", "master", "br0")
		tp.in(t, tp.M, "ip", "link", "set", "pb", "master", "br0")
		tp.in(t, tp.M, "ip", "link", "set", "br0", "up")
		sh(t, "ip", "-n", tp.A, "addr", "add", tp.addrA+"/24", "dev", "a0")
		sh(t, "ip", "-n", tp.B, "addr", "add", tp.addrB+"/24", "dev", "b0")
	} else {
		tp.addrA, tp.addrB, tp.mA, tp.mB = "10.96.1.2", "10.96.2.2", "10.96.1.1", "10.96.2.1"
		tp.in(t, tp.M, "ip", "addr", "add", tp.mA+"/24", "dev", "pa")
		tp.in(t, tp.M, "ip", "addr", "add", tp.mB+"/24", "dev", "pb")
		sh(t, "ip", "-n", tp.A, "addr", "add", tp.addrA+"/24", "dev", "a0")
		sh(t, "ip", "-n", tp.B, "addr", "add", tp.addrB+"/24", "dev", "b0")
		tp.in(t, tp.M, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	}
	for _, c := range [][]string{{tp.M, "pa"}, {tp.M, "pb"}, {tp.M, "lo"}, {tp.A, "a0"}, {tp.A, "lo"}, {tp.B, "b0"}, {tp.B, "lo"}} {
		tp.in(t, c[0], "ip", "link", "set", c[1], "up")
	}
	if kind == "router" {
		sh(t, "ip", "-n", tp.A, "route", "add", "default", "via", tp.mA)
		sh(t, "ip", "-n", tp.B, "route", "add", "default", "via", tp.mB)
	}
	if v6 && kind == "router" {
		tp.in(t, tp.M, "ip", "addr", "add", "fd96:1::1/64", "dev", "pa", "nodad")
		tp.in(t, tp.M, "ip", "addr", "add", "fd96:2::1/64", "dev", "pb", "nodad")
		sh(t, "ip", "-n", tp.A, "addr", "add", "fd96:1::2/64", "dev", "a0", "nodad")
		sh(t, "ip", "-n", tp.B, "addr", "add", "fd96:2::2/64", "dev", "b0", "nodad")
		tp.in(t, tp.M, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
		sh(t, "ip", "-n", tp.A, "-6", "route", "add", "default", "via", "fd96:1::1")
		sh(t, "ip", "-n", tp.B, "-6", "route", "add", "default", "via", "fd96:2::1")
	}
	return tp
}

func (tp *topo) trace(t *testing.T, timeout time.Duration) *Result {
	t.Helper()
	res, err := Run(context.Background(), Config{From: tp.A, To: tp.B, ToAddr: tp.toAddr, FromAddr: tp.fromAddr, Timeout: timeout})
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	return res
}

// pathWant is one failing probe: namespaces by letter (A, B, M).
type pathWant struct {
	direction string
	kind      facts.ProbeKind
	cause     facts.Cause
	namespace string
	detail    []string // parts of it
}

// pathCase is one fault of a three-namespace topology: break it, trace,
// check the verdicts, apply every printed fix as printed, trace again:
// all ok.
type pathCase struct {
	name, kind string
	unnamed    bool
	v6         bool // IPv6 too (router)
	break_     func(t *testing.T, tp *topo)
	want       []pathWant // probes not listed must be ok
	anyDetail  string     // in the detail of one probe at least
	// icmpFrom is the address whose ICMP error anyDetail names. The kernel
	// rate-limits ICMP errors (per destination and per namespace), so the
	// detail is owed only when such an error is on the wire; then it must
	// be there.
	icmpFrom  string
	otherPath bool // the break adds links the path takes: checkPath does not apply
}

func TestPathFaultMatrix(t *testing.T) {
	tests := []pathCase{
		{name: "bridge healthy", kind: "bridge"},
		{name: "bridge healthy unnamed", kind: "bridge", unnamed: true},
		{name: "bridge port down", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "ip", "link", "set", "pb", "down")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseLinkDown, "M", []string{"pb in M is down"}},
			{"A->B", "tcp", facts.CauseLinkDown, "M", []string{"pb in M is down"}},
			{"B->A", "icmp-echo", facts.CauseLinkDown, "M", []string{"pb in M is down"}},
			{"B->A", "tcp", facts.CauseLinkDown, "M", []string{"pb in M is down"}},
		}},
		{name: "bridge veth behind a port down", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			sh(t, "ip", "-n", tp.B, "link", "set", "b0", "down")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseLinkDown, "B", []string{"never left M", "b0 in B is down"}},
			{"A->B", "tcp", facts.CauseLinkDown, "B", []string{"b0 in B is down"}},
			{"B->A", "icmp-echo", facts.CauseLinkDown, "B", []string{"nothing left B on b0", "b0 in B is down"}},
			{"B->A", "tcp", facts.CauseLinkDown, "B", []string{"b0 in B is down"}},
		}},
		{name: "bridge-family drop", kind: "bridge", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "nft", "add table bridge pat")
			tp.in(t, tp.M, "nft", "add chain bridge pat fw { type filter hook forward priority 0; }")
			tp.in(t, tp.M, "nft", "add rule bridge pat fw ip daddr 10.95.0.77 drop") // matches no probe
			tp.in(t, tp.M, "nft", "add rule bridge pat fw ip daddr "+tp.addrB+" drop")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{"entered M on pa, never left M", "bridge pat fw handle 3"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"bridge pat fw handle 3"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"the answer left A on a0, entered M on pa, never left M", "bridge pat fw handle 3"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"bridge pat fw handle 3"}},
		}},
		{name: "router healthy", kind: "router"},
		{name: "router healthy both families", kind: "router", v6: true},
		{name: "router IPv6 forwarding off", kind: "router", v6: true, break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")
		}, want: []pathWant{
			{"A->B", "icmp6-echo", facts.CauseDropped, "M", []string{"entered M on pa, never left M", "forwarding is off in M (net.ipv6.conf.all.forwarding=0)"}},
			{"A->B", "tcp6", facts.CauseDropped, "M", []string{"net.ipv6.conf.all.forwarding=0"}},
			{"B->A", "icmp6-echo", facts.CauseDropped, "M", []string{"net.ipv6.conf.all.forwarding=0"}},
			{"B->A", "tcp6", facts.CauseDropped, "M", []string{"net.ipv6.conf.all.forwarding=0"}},
		}},
		{name: "router forwarding off", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "sysctl", "-qw", "net.ipv4.ip_forward=0")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{"left A on a0, entered M on pa, never left M", "forwarding is off in M"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"forwarding is off in M"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"entered M on pb, never left M", "forwarding is off in M"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"forwarding is off in M"}},
		}},
		{name: "router missing route back", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "ip", "route", "del", "10.96.1.0/24", "dev", "pa")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseNoReturnRoute, "M", []string{"the answer left B on b0, entered M on pb, never left M", "no route back to 10.96.1.2"}},
			{"A->B", "tcp", facts.CauseNoReturnRoute, "M", []string{"no route back to 10.96.1.2"}},
			{"B->A", "icmp-echo", facts.CauseNoRoute, "M", []string{"entered M on pb, never left M"}},
			{"B->A", "tcp", facts.CauseNoRoute, "M", []string{"entered M on pb, never left M"}},
		}, anyDetail: "M (10.96.2.1) sent ICMP net unreachable", icmpFrom: "10.96.2.1"}, // M's ICMP is rate-limited: one probe gets it
		{name: "router input rule in B", kind: "router", break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.B, "nft", "add table ip pat")
			tp.in(t, tp.B, "nft", "add chain ip pat in { type filter hook input priority 0; }")
			tp.in(t, tp.B, "nft", "add rule ip pat in tcp dport 22 drop") // matches no probe
			tp.in(t, tp.B, "nft", "add rule ip pat in ip saddr "+tp.addrA+" drop")
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "B", []string{"entered B on b0, nothing answered", "ip pat in handle 3"}},
			{"A->B", "tcp", facts.CauseDropped, "B", []string{"ip pat in handle 3"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "B", []string{"the answer left A on a0", "entered B on b0, never reached the probe", "ip pat in handle 3"}},
			{"B->A", "tcp", facts.CauseDropped, "B", []string{"ip pat in handle 3"}},
		}},
		{name: "router chain policy drop", kind: "router", unnamed: true, break_: func(t *testing.T, tp *topo) {
			tp.in(t, tp.M, "nft", "add table inet pat")
			tp.in(t, tp.M, "nft", "add chain inet pat forward { type filter hook forward priority 0; policy drop; }")
			tp.in(t, tp.M, "nft", "add rule inet pat forward tcp dport 22 accept") // lets no probe through
		}, want: []pathWant{
			{"A->B", "icmp-echo", facts.CauseDropped, "M", []string{"policy drop of chain inet pat forward"}},
			{"A->B", "tcp", facts.CauseDropped, "M", []string{"policy drop of chain inet pat forward"}},
			{"B->A", "icmp-echo", facts.CauseDropped, "M", []string{"policy drop of chain inet pat forward"}},
			{"B->A", "tcp", facts.CauseDropped, "M", []string{"policy drop of chain inet pat forward"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runPathCase(t, "pa", tt) })
	}
}

func runPathCase(t *testing.T, prefix string, tt pathCase) {
	tp := newTopoPrefix(t, prefix, tt.kind, tt.unnamed, tt.v6)
	// Healthy traces end at their last answer; the timeout bounds the
	// failing ones and is generous for a loaded machine.
	timeout := 2 * time.Second
	if tt.break_ != nil {
		tt.break_(t, tp)
		timeout = time.Second
	}
	res := tp.trace(t, timeout)
	if !tt.otherPath {
		checkPath(t, tp, res, tt.break_ != nil)
	}
	ns := map[string]string{"A": tp.A, "B": tp.B, "M": tp.M}
	letters := strings.NewReplacer("A->B", tp.A+"->"+tp.B, "B->A", tp.B+"->"+tp.A,
		" A ", " "+tp.A+" ", " B ", " "+tp.B+" ", " M ", " "+tp.M+" ", " M:", " "+tp.M+":",
		" A/", " "+tp.A+"/", " B/", " "+tp.B+"/", " M/", " "+tp.M+"/", " A's", " "+tp.A+"'s", " B's", " "+tp.B+"'s", " M's", " "+tp.M+"'s")
	checked := map[string]bool{}
	var fixes []string
	for _, w := range tt.want {
		dir := letters.Replace(w.direction)
		kind, fam := w.kind, 4
		switch kind {
		case "tcp6":
			kind, fam = "tcp", 6
		case "icmp6-echo":
			fam = 6
		case "mtu6":
			kind, fam = facts.KindMTU, 6
		}
		checked[fmt.Sprint(dir, kind, fam)] = true
		p := findFamily(res, dir, kind, fam)
		if p == nil {
			t.Fatalf("no %s %s probe", dir, w.kind)
		}
		if p.OK || p.Cause != w.cause || p.Namespace != ns[w.namespace] {
			t.Errorf("%s %s: %s in %s (%s), want %s in %s", dir, w.kind, p.Cause, p.Namespace, p.Detail, w.cause, ns[w.namespace])
			for _, s := range p.Seen { // what the verdict was built from
				t.Logf("  seen %s %s %s %q %s", s.Time.Format("15:04:05.000000"), s.Point, s.Dir, s.What, s.Drop)
			}
		}
		if strings.Contains(p.Detail, "the kernel says otherwise") {
			t.Errorf("%s %s: the verdict contradicts the kernel's drops: %s", dir, w.kind, p.Detail)
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
	for _, p := range res.Probes {
		if !p.OK || p.Kind == facts.KindMTU {
			t.Logf("%s %s: %s in %s, fix %q: %s", p.Direction, p.Kind, p.Cause, p.Namespace, p.Fix, p.Detail)
		}
		if !checked[fmt.Sprint(p.Direction, p.Kind, p.Family)] && !p.OK {
			t.Errorf("%s %s: %s in %s (%s), want ok", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
	}
	if tt.anyDetail != "" && !slices.ContainsFunc(res.Probes, func(p Probe) bool {
		return strings.Contains(p.Detail, strings.TrimSpace(letters.Replace(" "+tt.anyDetail+" ")))
	}) {
		if tt.icmpFrom != "" && !icmpErrorFrom(res, tt.icmpFrom) {
			t.Logf("no ICMP error from %s was captured (rate-limited by the kernel): %q is not owed", tt.icmpFrom, tt.anyDetail)
		} else {
			t.Errorf("no probe's detail has %q", tt.anyDetail)
		}
	}
	if *update {
		record(t, tt.name, res)
	}
	if t.Failed() || len(fixes) == 0 {
		return
	}
	// The fixes work as printed: run them, trace again, all ok.
	applyFixes(t, fixes)
	// A resolution the fault left in flight still ends as it began: its
	// remaining ARP probes, sent before the fix, fail it and drop what
	// the next trace queues on it. Wait for the kernel to settle them
	// (the event, polled), as a user retrying would.
	if !eventually(func() bool {
		for _, n := range []string{tp.A, tp.B, tp.M} {
			c := cmdline.IP(n, "neigh", "show", "nud", "incomplete")
			out, _ := exec.Command(c[0], c[1:]...).Output()
			if strings.TrimSpace(string(out)) != "" {
				return false
			}
			// A link set up gets its peer's carrier when the kernel's
			// linkwatch gets to it, later under load.
			lc := cmdline.IP(n, "-o", "link", "show", "up")
			links, _ := exec.Command(lc[0], lc[1:]...).Output()
			if strings.Contains(string(links), "NO-CARRIER") {
				return false
			}
		}
		return true
	}) {
		t.Fatal("neighbour resolutions still incomplete, or links without carrier, after 30 s")
	}
	again := tp.trace(t, 2*time.Second)
	for _, p := range again.Probes {
		if !p.OK {
			t.Errorf("after %q: %s %s: %s in %s (%s)", fixes, p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
	}
}

// checkPath: both directions' paths go A, M, B (and back) with the
// interfaces the topology has, M's role its kind, inodes filled in.
func checkPath(t *testing.T, tp *topo, res *Result, broken bool) {
	t.Helper()
	role := facts.RoleBridge
	if tp.kind == "router" {
		role = facts.RoleRouter
	}
	want := map[string][]facts.Hop{
		tp.A + "->" + tp.B: {{Namespace: tp.A, Out: "a0", Role: facts.RoleSource}, {Namespace: tp.M, In: "pa", Out: "pb", Role: role}, {Namespace: tp.B, In: "b0", Role: facts.RoleDestination}},
		tp.B + "->" + tp.A: {{Namespace: tp.B, Out: "b0", Role: facts.RoleSource}, {Namespace: tp.M, In: "pb", Out: "pa", Role: role}, {Namespace: tp.A, In: "a0", Role: facts.RoleDestination}},
	}
	for dir, hops := range want {
		got := res.Path[dir]
		if broken && len(got) >= 1 && len(got) < len(hops) {
			hops = hops[:len(got)] // a route lookup that fails ends the path
		}
		if len(got) != len(hops) {
			t.Errorf("path %s: %+v, want %+v", dir, got, hops)
			continue
		}
		for i := range hops {
			g := got[i]
			ino, err := nsInode(hops[i].Namespace)
			if err != nil {
				t.Fatal(err)
			}
			if g.Inode != ino {
				t.Errorf("path %s hop %d: inode %d, want %d", dir, i, g.Inode, ino)
			}
			g.Inode = 0
			// A path that ends early has no way out of its last hop.
			if g != hops[i] && (i < len(got)-1 || g.Namespace != hops[i].Namespace || g.In != hops[i].In) {
				t.Errorf("path %s hop %d: %+v, want %+v", dir, i, g, hops[i])
			}
		}
	}
	b, err := json.Marshal(res.Path)
	if err != nil || !strings.Contains(string(b), `"in":null`) {
		t.Errorf("path JSON %s (%v): want null for the source's in", b, err)
	}
}

func nsInode(ns string) (uint64, error) {
	if pid, ok := strings.CutPrefix(ns, "pid:"); ok {
		n, _ := strconv.Atoi(pid)
		var st os.FileInfo
		st, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", n))
		if err != nil {
			return 0, err
		}
		return statIno(st), nil
	}
	st, err := os.Stat(filepath.Join(topology.RunDir, ns))
	if err != nil {
		return 0, err
	}
	return statIno(st), nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// record writes the trace's facts and verdicts for the judgement's table
// test (go test -run TestPathFaultMatrix -update).
func record(t *testing.T, name string, res *Result) {
	t.Helper()
	rec := facts.Record{Version: facts.FactsVersion, Facts: res.Facts}
	for _, p := range res.Probes {
		rec.Verdicts = append(rec.Verdicts, verdictOf(p))
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("testdata", "facts", strings.Trim(unsafeName.ReplaceAllString(name, "-"), "-")+".json")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func findFamily(res *Result, direction string, kind facts.ProbeKind, family int) *Probe {
	for i, p := range res.Probes {
		if p.Direction == direction && p.Kind == kind && p.Family == family {
			return &res.Probes[i]
		}
	}
	return nil
}

// icmpErrorFrom reports whether the trace captured an ICMP error sent by
// addr, whatever packet it quotes.
func icmpErrorFrom(res *Result, addr string) bool {
	for _, ex := range res.Report.Exchanges {
		for _, e := range ex.Errors {
			if e.From == addr {
				return true
			}
		}
	}
	return false
}

func statIno(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }
