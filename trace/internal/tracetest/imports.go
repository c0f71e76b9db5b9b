// Package tracetest holds what the tests of trace and its packages share:
// the rule on what a pure package may import, and the recorded facts
// under trace/testdata/facts.
package tracetest

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// System are standard packages that reach the kernel, the file system or
// other programs.
var System = []string{"os", "os/exec", "os/signal", "syscall", "net", "net/http", "unsafe", "runtime/cgo", "plugin"}

// Module is nsdump's module path.
const Module = "github.com/nsdump/nsdump"

// ImportsOnly fails t if the package in dir imports a package outside
// the standard library that allowed does not list, or one of System.
// Each package in allowed is held to the same rule, so that it cannot be
// dodged through one of them.
func ImportsOnly(t *testing.T, dir string, allowed ...string) {
	t.Helper()
	pkg, err := build.ImportDir(dir, 0)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	check(t, pkg, allowed)
	for _, a := range allowed {
		dep, err := build.Import(a, dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		check(t, dep, allowed)
	}
}

func check(t *testing.T, pkg *build.Package, allowed []string) {
	t.Helper()
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		switch {
		case slices.Contains(allowed, imp):
		case strings.Contains(first, "."):
			t.Errorf("%s imports %s: it may import only %v and the standard library", pkg.ImportPath, imp, allowed)
		case slices.Contains(System, imp):
			t.Errorf("%s imports %s, which reaches the system: it works on values only", pkg.ImportPath, imp)
		}
	}
}
