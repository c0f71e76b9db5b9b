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
	return uniqueLab(t, &labSeq, "nsdt-", "t", "172.31")
}

// uniqueLab returns a lab named nsPrefix+a/b and vethPrefix+a/b plus a tag
// of this process and seq's next number, with the /24s numbered 2n and
// 2n+1 under net (two octets), torn down when the test ends.
func uniqueLab(t *testing.T, seq *atomic.Int32, nsPrefix, vethPrefix, net string) Lab {
	t.Helper()
	requireRoot(t)
	n := seq.Add(1)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, n&0xff)
	l := Lab{
		NS0: nsPrefix + "a" + tag, NS1: nsPrefix + "b" + tag,
		Veth0: vethPrefix + "a" + tag, Veth1: vethPrefix + "b" + tag,
		Addr0: netip.MustParsePrefix(fmt.Sprintf("%s.%d.1/24", net, 2*n)),
		Addr1: netip.MustParsePrefix(fmt.Sprintf("%s.%d.1/24", net, 2*n+1)),
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
