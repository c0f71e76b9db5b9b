package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// StateDir holds nsdump's lock and the record of namespaces a run created
// for itself only (the demo's lab), so that a run killed with SIGKILL leaves
// a trace the next one can point at. It never names anything nsdump did not
// create.
const StateDir = "/run/nsdump"

// lockLabs serialises changes to labs across nsdump processes: two setups
// at once, or the first use of /run/netns on a fresh machine racing.
func lockLabs() (unlock func(), err error) {
	if err := os.MkdirAll(StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", StateDir, err)
	}
	fd, err := unix.Open(filepath.Join(StateDir, "lock"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lab lock: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(fd, unix.LOCK_UN); unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			unix.Close(fd)
			return nil, fmt.Errorf("lock %s/lock (another nsdump changing a lab?): %w", StateDir, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// markTransient records that this process created the namespace for itself
// and will remove it; if the process dies first, Leftovers reports it.
func markTransient(name string) error {
	dir := filepath.Join(StateDir, "transient")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ino := uint64(0)
	if ns, err := OpenNamespace(name); err == nil {
		ino, _ = Inode(ns)
		ns.Close()
	}
	body := fmt.Sprintf("%d %d\n", os.Getpid(), ino)
	return os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600)
}

func unmarkTransient(name string) {
	os.Remove(filepath.Join(StateDir, "transient", name))
}

// Leftover is a namespace a dead nsdump process created for itself.
type Leftover struct {
	Namespace string
	PID       int
}

// Leftovers lists namespaces that an nsdump run (a demo) created for
// itself and did not remove because it was killed: its process is gone and
// the namespace, the very same inode, is still there. Records of namespaces
// already gone are cleaned up.
func Leftovers() []Leftover {
	dir := filepath.Join(StateDir, "transient")
	entries, _ := os.ReadDir(dir)
	var out []Leftover
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) != 2 || ValidateNamespace(e.Name()) != nil {
			continue
		}
		pid, _ := strconv.Atoi(f[0])
		ino, _ := strconv.ParseUint(f[1], 10, 64)
		if pid > 0 && unix.Kill(pid, 0) == nil {
			continue // still running
		}
		ns, err := OpenNamespace(e.Name())
		if err != nil {
			os.Remove(filepath.Join(dir, e.Name()))
			continue
		}
		cur, _ := Inode(ns)
		ns.Close()
		if cur != ino {
			os.Remove(filepath.Join(dir, e.Name())) // the name now belongs to another namespace
			continue
		}
		out = append(out, Leftover{Namespace: e.Name(), PID: pid})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

// RemoveLeftovers deletes the namespaces Leftovers reports, and nothing else.
func RemoveLeftovers() ([]string, error) {
	unlock, err := lockLabs()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var done []string
	for _, l := range Leftovers() {
		if err := DeleteNamespace(l.Namespace); err != nil {
			return done, err
		}
		unmarkTransient(l.Namespace)
		done = append(done, "ip netns del "+l.Namespace)
	}
	return done, nil
}
