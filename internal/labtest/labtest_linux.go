package labtest

import (
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"

	"github.com/nsdump/nsdump/topology"
)

// RequireRoot skips a test that needs root, or fails it when Mandatory.
func RequireRoot(t testing.TB) {
	t.Helper()
	if err := topology.CheckPrivileges(); err != nil {
		Unavailable(t, "needs root: %v", err)
	}
}

var seq atomic.Int32

// Names returns a lab description with unique names; prefix (two letters)
// tells which package's test made it. Nothing is created, but whatever
// carries these names is removed when the test ends.
func Names(t testing.TB, prefix string) topology.Lab {
	t.Helper()
	RequireRoot(t)
	n := seq.Add(1)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, n&0xff)
	l := topology.Lab{
		NS0: "nsd" + prefix + "-a" + tag, NS1: "nsd" + prefix + "-b" + tag,
		Veth0: prefix + "a" + tag, Veth1: prefix + "b" + tag,
		Addr0: netip.MustParsePrefix(fmt.Sprintf("192.168.%d.10/24", 2*(n%120)+2)),
		Addr1: netip.MustParsePrefix(fmt.Sprintf("192.168.%d.20/24", 2*(n%120)+3)),
	}
	t.Cleanup(func() { topology.Teardown(l, true) })
	return l
}

// New builds a lab under Names, with the routes between its subnets when
// routes is set.
func New(t testing.TB, prefix string, routes bool) topology.Lab {
	t.Helper()
	l := Names(t, prefix)
	if _, err := topology.Setup(l, routes); err != nil {
		t.Fatalf("setup of the test lab: %v", err)
	}
	return l
}

// Flags are the naming flags that select l on nsdump's command line.
func Flags(l topology.Lab) []string {
	f := []string{"--ns0", l.NS0, "--ns1", l.NS1, "--veth0", l.Veth0, "--veth1", l.Veth1}
	for _, p := range l.Addrs0() {
		f = append(f, "--addr0", p.String())
	}
	for _, p := range l.Addrs1() {
		f = append(f, "--addr1", p.String())
	}
	return f
}
