package judge

import (
	"testing"

	"github.com/nsdump/nsdump/trace/internal/tracetest"
)

// TestJudgeImportsOnlyFactsAndStdlib: the judgement is pure by its
// imports, not by discipline. It reads facts, the gathered state's plain
// values (topology/nsstate) and builds the commands it prints
// (cmdline); topology/names only as facts does, to check a stored file's
// names. Of the standard library nothing that reaches the system.
func TestJudgeImportsOnlyFactsAndStdlib(t *testing.T) {
	tracetest.ImportsOnly(t, ".",
		tracetest.Module+"/trace/facts",
		tracetest.Module+"/topology/nsstate",
		tracetest.Module+"/topology/names",
		tracetest.Module+"/cmdline",
	)
}
