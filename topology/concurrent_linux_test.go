package topology

import (
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
)

// TestParallelSetups: eight labs set up at once, and one lab set up by
// four callers at once, all end in the same state as one setup would.
func TestParallelSetups(t *testing.T) {
	requireRoot(t)
	var labs []Lab
	for i := 0; i < 8; i++ {
		tag := fmt.Sprintf("%04x%x", os.Getpid()&0xffff, i)
		l := Lab{NS0: "nsdp-a" + tag, NS1: "nsdp-b" + tag, Veth0: "pa" + tag, Veth1: "pb" + tag,
			Addr0: netip.MustParsePrefix(fmt.Sprintf("172.23.%d.1/24", 2*i)), Addr1: netip.MustParsePrefix(fmt.Sprintf("172.23.%d.1/24", 2*i+1))}
		labs = append(labs, l)
		t.Cleanup(func() { Teardown(l, true) })
	}
	same := labs[0]
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for _, l := range append(labs, same, same, same) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Setup(l, true); err != nil {
				errs <- fmt.Errorf("%s: %w", l.NS0, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, l := range labs {
		if done, err := Setup(l, true); err != nil || len(done) != 0 {
			t.Errorf("lab %s after the parallel setups: done=%q err=%v, want complete", l.NS0, done, err)
		}
	}
}
