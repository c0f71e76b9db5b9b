package judge

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// facts are the packages of nsdump the judgement may import, each of the
// standard library only. Everything else it imports is the standard
// library, and of that nothing that reaches the system: the judgement is
// pure by its imports, not by discipline.
var facts = []string{
	"github.com/nsdump/nsdump/topology/nsstate", // the gathered state's values
	"github.com/nsdump/nsdump/topology/names",   // which names a command can carry
	"github.com/nsdump/nsdump/cmdline",          // the commands it prints, quoted
}

// system are standard packages that reach the kernel, the file system or
// other programs.
var system = []string{"os", "os/exec", "os/signal", "syscall", "net", "net/http", "unsafe", "runtime/cgo", "plugin"}

func TestJudgeImportsOnlyFactsAndStdlib(t *testing.T) {
	for _, dir := range []string{".", "../../topology/nsstate", "../../topology/names", "../../cmdline"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			first, _, _ := strings.Cut(imp, "/")
			switch {
			case slices.Contains(facts, imp) && dir == ".":
			case strings.Contains(first, "."):
				t.Errorf("%s imports %s: the judgement may import only %v and the standard library", pkg.ImportPath, imp, facts)
			case slices.Contains(system, imp):
				t.Errorf("%s imports %s, which reaches the system: the judgement reads facts only", pkg.ImportPath, imp)
			}
		}
	}
}
