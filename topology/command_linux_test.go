package topology_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// A program run in a namespace enters the very one nsdump holds, through
// its descriptor: a target path with blanks in it (a bind mount of a
// container's namespace) reaches it, where splitting "nsenter --net=PATH"
// into words did not.
func TestOutputInEntersTheHeldNamespace(t *testing.T) {
	u := labtest.NewUnnamed(t)
	path := filepath.Join(t.TempDir(), "nsdrs net ns")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(u.Path(), path, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", u.Path(), err)
	}
	t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
	for _, target := range []string{path, u.Spec()} {
		t.Run(target, func(t *testing.T) {
			ns, err := topology.OpenNamespace(target)
			if err != nil {
				t.Fatal(err)
			}
			defer ns.Close()
			ino, err := topology.Inode(ns)
			if err != nil {
				t.Fatal(err)
			}
			out, err := topology.OutputIn(ns, "readlink", "/proc/self/ns/net")
			if err != nil {
				t.Fatalf("readlink in %s: %v", target, err)
			}
			if got, want := strings.TrimSpace(string(out)), "net:["+strconv.FormatUint(ino, 10)+"]"; got != want {
				t.Errorf("the child ran in %s, want %s", got, want)
			}
		})
	}
}
