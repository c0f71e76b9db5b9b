package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace"
)

// The text output shows a path through other namespaces, one line per
// direction, and none for two namespaces joined directly.
func TestPrintPath(t *testing.T) {
	res := &trace.Result{From: trace.Endpoint{Namespace: "A"}, To: trace.Endpoint{Namespace: "B"}, Path: map[string][]trace.Hop{
		"A->B": {{Namespace: "A", Out: "a0", Role: trace.RoleSource}, {Namespace: "M", In: "pa", Out: "pb", Role: trace.RoleBridge}, {Namespace: "B", In: "b0", Role: trace.RoleDestination}},
		"B->A": {{Namespace: "B", Out: "b0", Role: trace.RoleSource}, {Namespace: "R", In: "pb", Role: trace.RoleRouter}},
	}}
	var b bytes.Buffer
	printPath(&b, res)
	want := "path A->B: A a0 > pa M (bridge) pb > b0 B\npath B->A: B b0 > pb R (router) ... (no way on)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	res.Path = map[string][]trace.Hop{"A->B": {{Namespace: "A", Out: "v0", Role: trace.RoleSource}, {Namespace: "B", In: "v1", Role: trace.RoleDestination}}}
	if printPath(&b, res); strings.Contains(b.String(), "path") {
		t.Errorf("a direct path printed: %q", b.String())
	}
}
