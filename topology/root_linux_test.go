package topology

import (
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
)

// requireRoot skips a test that needs root, unless CI demands root tests run.
func requireRoot(t *testing.T) {
	t.Helper()
	if err := CheckPrivileges(); err != nil {
		if os.Getenv("NSDUMP_REQUIRE_ROOT") == "1" {
			t.Fatalf("NSDUMP_REQUIRE_ROOT=1 but: %v", err)
		}
		t.Skipf("needs root: %v", err)
	}
}

var labSeq atomic.Int32

// testLab returns a lab with names no one else uses and addresses unlike the
// defaults, torn down when the test ends.
func testLab(t *testing.T) Lab {
	t.Helper()
	requireRoot(t)
	n := labSeq.Add(1)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, n&0xff)
	l := Lab{
		NS0: "nsdt-a" + tag, NS1: "nsdt-b" + tag,
		Veth0: "ta" + tag, Veth1: "tb" + tag,
		Addr0: netip.MustParsePrefix(fmt.Sprintf("172.31.%d.1/24", 2*n)),
		Addr1: netip.MustParsePrefix(fmt.Sprintf("172.31.%d.1/24", 2*n+1)),
	}
	t.Cleanup(func() {
		DeleteNamespace(l.NS0)
		DeleteNamespace(l.NS1)
	})
	return l
}

// ip runs iproute2 and returns its stdout; it fails the test on error.
func ip(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, "ip", args...)
}
