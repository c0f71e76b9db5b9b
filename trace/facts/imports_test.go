package facts_test

import (
	"testing"

	"github.com/nsdump/nsdump/trace/internal/tracetest"
)

// TestFactsImportOnlyValues: the facts are values and their JSON. They
// hold the gathered state's values (topology/nsstate), check a stored
// file's names as a command would take them (topology/names, cmdline),
// and import nothing else of nsdump, nor anything that reaches the system.
func TestFactsImportOnlyValues(t *testing.T) {
	tracetest.ImportsOnly(t, ".",
		tracetest.Module+"/topology/nsstate",
		tracetest.Module+"/topology/names",
		tracetest.Module+"/cmdline",
	)
}
