// Package labtest gives a test a lab of its own: root required (the test is
// skipped without it, or fails when NSDUMP_REQUIRE_ROOT=1 as in CI), names
// no other test or run uses (never vnet0/vnet1), addresses unlike the
// defaults, and the lab removed when the test ends.
package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Mandatory reports whether NSDUMP_REQUIRE_ROOT=1 is set (.ci/run sets
// it): then every test that needs root, a tool or the peer corpus must run,
// and what it lacks fails it. It is the only switch; nothing reads CI.
func Mandatory() bool { return os.Getenv("NSDUMP_REQUIRE_ROOT") == "1" }

// Unavailable ends a test that cannot run here: skipped with the reason,
// or failed with it when Mandatory.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if Mandatory() {
		t.Fatalf("NSDUMP_REQUIRE_ROOT=1 but %s", reason)
	}
	t.Skip(reason)
}

// PeerDir is the peer capture corpus, testdata/peer at the repository's
// root, given the path from the test's package to the root ("..").
// Without its manifest the test skips, or fails when Mandatory.
func PeerDir(t testing.TB, root string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join(root, "testdata", "peer"))
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "manifest.tsv"))
	}
	if err != nil {
		Unavailable(t, "needs the peer corpus: %v", err)
	}
	return dir
}
