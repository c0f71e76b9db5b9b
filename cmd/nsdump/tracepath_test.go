package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace"
	"github.com/nsdump/nsdump/trace/facts"
)

// The text output shows a path through other namespaces, one line per
// direction, and none for two namespaces joined directly.
func TestPrintPath(t *testing.T) {
	res := &trace.Result{From: trace.Endpoint{Namespace: "A"}, To: trace.Endpoint{Namespace: "B"}, Path: map[string][]facts.Hop{
		"A->B": {{Namespace: "A", Out: "a0", Role: facts.RoleSource}, {Namespace: "M", In: "pa", Out: "pb", Role: facts.RoleBridge}, {Namespace: "B", In: "b0", Role: facts.RoleDestination}},
		"B->A": {{Namespace: "B", Out: "b0", Role: facts.RoleSource}, {Namespace: "R", In: "pb", Role: facts.RoleRouter}},
	}}
	var b bytes.Buffer
	printPath(&b, res)
	want := "path A->B: A a0 > pa M (bridge) pb > b0 B\npath B->A: B b0 > pb R (router) ... (no way on)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	res.Path = map[string][]facts.Hop{"A->B": {{Namespace: "A", Out: "v0", Role: facts.RoleSource}, {Namespace: "B", In: "v1", Role: facts.RoleDestination}}}
	if printPath(&b, res); strings.Contains(b.String(), "path") {
		t.Errorf("a direct path printed: %q", b.String())
	}
}

// IPv4 and IPv6 taking different routers: both paths, each marked with
// its family; a family whose path is the same adds no line.
func TestPrintPathFamilies(t *testing.T) {
	hops := func(r string) []facts.Hop {
		return []facts.Hop{{Namespace: "A", Out: "a0", Role: facts.RoleSource}, {Namespace: r, In: "x", Out: "y", Role: facts.RoleRouter}, {Namespace: "B", In: "b0", Role: facts.RoleDestination}}
	}
	res := &trace.Result{From: trace.Endpoint{Namespace: "A"}, To: trace.Endpoint{Namespace: "B"},
		Path: map[string][]facts.Hop{"A->B": hops("R1")},
		Paths: []facts.FamilyPath{
			{Direction: "A->B", Family: 4, Hops: hops("R1")}, {Direction: "B->A", Family: 4},
			{Direction: "A->B", Family: 6, Hops: hops("R2")}, {Direction: "B->A", Family: 6},
		}}
	var b bytes.Buffer
	printPath(&b, res)
	want := "path A->B (IPv4): A a0 > x R1 (router) y > b0 B\npath A->B (IPv6): A a0 > x R2 (router) y > b0 B\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	res.Paths[2].Hops = hops("R1")
	b.Reset()
	printPath(&b, res)
	if want := "path A->B: A a0 > x R1 (router) y > b0 B\n"; b.String() != want {
		t.Errorf("same path in both families: got\n%s\nwant\n%s", b.String(), want)
	}
}

// A path longer than facts.MaxHops says it goes on, unfollowed.
func TestPrintPathTruncated(t *testing.T) {
	var hops []facts.Hop
	for i := range facts.MaxHops {
		h := facts.Hop{Namespace: fmt.Sprintf("R%d", i), In: "l", Out: "r", Role: facts.RoleRouter}
		if i == 0 {
			h = facts.Hop{Namespace: "A", Out: "r", Role: facts.RoleSource}
		}
		hops = append(hops, h)
	}
	res := &trace.Result{From: trace.Endpoint{Namespace: "A"}, To: trace.Endpoint{Namespace: "B"},
		Path:  map[string][]facts.Hop{"A->B": hops},
		Paths: []facts.FamilyPath{{Direction: "A->B", Family: 4, Hops: hops, Truncated: true}}}
	var b bytes.Buffer
	printPath(&b, res)
	if want := "l R7 (router) r > ... (goes on past 8 namespaces: not followed or captured further)\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("got %q, want it to end %q", b.String(), want)
	}
}

// A path past a DNAT: the hop that rewrote the destination says where to,
// and the path goes on into the namespace behind it.
func TestPrintPathDNAT(t *testing.T) {
	res := &trace.Result{From: trace.Endpoint{Namespace: "A"}, To: trace.Endpoint{Namespace: "B"}, Path: map[string][]facts.Hop{
		"A->B": {{Namespace: "A", Out: "a0", Role: facts.RoleSource}, {Namespace: "B", In: "b0", Out: "br-1f2e", Role: facts.RoleRouter, DNATTo: netip.MustParseAddrPort("10.94.1.5:8080")},
			{Namespace: "C", In: "eth0", Role: facts.RoleDestination}},
	}}
	var b bytes.Buffer
	printPath(&b, res)
	if want := "path A->B: A a0 > b0 B (router, DNAT to 10.94.1.5:8080) br-1f2e > eth0 C\n"; b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
