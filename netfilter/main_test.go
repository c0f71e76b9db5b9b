package netfilter

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the package's tests a state directory of their own: their
// records never mix with a real run's, nor with other packages' tests. The
// child of TestKilledTracerLeftovers keeps its parent's.
func TestMain(m *testing.M) {
	if os.Getenv("NSDNF_CHILD_NS") != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "nsdump-netfilter-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("NSDUMP_STATE_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
