package tracetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
)

// FactsDir is trace/testdata/facts: the facts of live traces and the
// verdicts they gave, as trace -w stores them (written by trace's
// TestPathFaultMatrix and TestFaultMatrix with -update, as root).
var FactsDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "facts")
}()

// LoadRecorded reads every recorded facts file, by its name without
// .json.
func LoadRecorded(t testing.TB) map[string]facts.Record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(FactsDir, "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded facts under trace/testdata/facts (go test ./trace -run TestPathFaultMatrix -update, as root)")
	}
	out := map[string]facts.Record{}
	for _, f := range files {
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = read(t, f)
	}
	return out
}

// LoadOne reads the recorded facts file name (without .json).
func LoadOne(t testing.TB, name string) facts.Record {
	t.Helper()
	return read(t, filepath.Join(FactsDir, name+".json"))
}

func read(t testing.TB, file string) facts.Record {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var r facts.Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return r
}
