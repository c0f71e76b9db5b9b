package trace

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The recorded facts files, as trace's tests of records and of the live
// matrices (which write them) read them; judge's tests have their own.

// recorded is a testdata/facts file: what a live trace gathered and the
// verdicts it gave, as trace -w stores them (written by
// TestPathFaultMatrix and TestFaultMatrix with -update, as root).
type recorded = Record

func statIno(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }

func loadRecorded(t *testing.T) map[string]recorded {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", "facts", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded facts under testdata/facts (go test -run TestPathFaultMatrix -update, as root)")
	}
	out := map[string]recorded{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r recorded
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".json")] = r
	}
	return out
}
