package topology

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// threadNamespaces returns the network namespace of every thread of this
// process, keyed by thread id.
func threadNamespaces(t *testing.T) map[string]string {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range tasks {
		if link, err := os.Readlink(p); err == nil {
			out[p] = link
		}
	}
	return out
}

func TestDoLeavesEveryThreadWhereItStarted(t *testing.T) {
	l := testLab(t)
	if _, err := Setup(l, false); err != nil {
		t.Fatal(err)
	}
	start, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var handles [2]int
	for i, name := range []string{l.NS0, l.NS1} {
		ns, err := OpenNamespace(name)
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		handles[i] = int(ns)
	}
	want := map[int]string{}
	for _, h := range handles {
		var st unix.Stat_t
		unix.Fstat(h, &st)
		want[h] = "net:[" + strconv.FormatUint(st.Ino, 10) + "]"
	}

	const goroutines, perGoroutine = 50, 20 // 1,000 switches
	var wg sync.WaitGroup
	errs := make(chan string, goroutines*perGoroutine)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				h := handles[(g+i)%2]
				err := Do(netns.NsHandle(h), func() error {
					got, err := os.Readlink("/proc/thread-self/ns/net")
					if err != nil {
						return err
					}
					if got != want[h] {
						errs <- "inside Do the thread is in " + got + ", want " + want[h]
					}
					return nil
				})
				if err != nil {
					errs <- err.Error()
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for task, ns := range threadNamespaces(t) {
		if ns != start {
			t.Errorf("%s is in %s after 1,000 switches, want %s", task, ns, start)
		}
	}
}
