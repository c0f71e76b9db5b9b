package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

var (
	// ErrNoNamespace is returned for a named namespace that does not exist.
	ErrNoNamespace = errors.New("no such namespace (see ip netns list)")
	// ErrExists is returned when a name is already taken.
	ErrExists = errors.New("already exists")
	// ErrNotNamespace is returned for a name under /run/netns that holds no
	// namespace mount: mostly the empty file of an interrupted creation.
	ErrNotNamespace = errors.New("is not a namespace mount (an interrupted `ip netns add` or nsdump setup leaves an empty file; nsdump teardown or ip netns del removes it)")
)

// NamespacePath is the file that names the namespace.
func NamespacePath(name string) string { return filepath.Join(RunDir, name) }

// OpenNamespace opens a named namespace as iproute2 would find it, or a
// pid:N or a path (see target.go), by name: nothing held is consulted.
func OpenNamespace(name string) (netns.NsHandle, error) {
	return (*Targets)(nil).OpenNamespace(name)
}

// OpenNamespace opens a fresh descriptor of the target ts holds under
// name, else opens name as the function OpenNamespace does.
func (ts *Targets) OpenNamespace(name string) (netns.NsHandle, error) {
	if ns, ok, err := ts.dupHeld(name); ok {
		return ns, err
	}
	if !IsNamed(name) {
		return openUnheld(name)
	}
	if err := ValidateNamespace(name); err != nil {
		return netns.None(), err
	}
	path := NamespacePath(name)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return netns.None(), fmt.Errorf("namespace %q: %w", name, ErrNoNamespace)
		}
		return netns.None(), fmt.Errorf("open namespace %q: %w", name, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		unix.Close(fd)
		return netns.None(), fmt.Errorf("namespace %q: %s %w: %w", name, path, ErrNotNamespace, ErrNoNamespace)
	}
	return netns.NsHandle(fd), nil
}

// NamespaceExists reports whether /run/netns/NAME is a namespace mount.
func NamespaceExists(name string) bool {
	ns, err := OpenNamespace(name)
	if err != nil {
		return false
	}
	ns.Close()
	return true
}

// ListNamespaces returns the names under /run/netns, sorted, as `ip netns list` does.
func ListNamespaces() ([]string, error) {
	entries, err := os.ReadDir(RunDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// CreateNamespace makes a new named network namespace as `ip netns add`
// does: a bind mount of a fresh namespace on /run/netns/NAME, with
// /run/netns a shared mount so that other mount namespaces see it. Unlike
// iproute2 it survives being killed at any instant: see createNamespace.
func CreateNamespace(name string) error {
	if err := ValidateNamespace(name); err != nil {
		return err
	}
	unlock, err := lockLabs()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := repair(name); err != nil {
		return err
	}
	return createNamespace(name, false)
}

// createNamespace makes the namespace first, records its identity, and only
// then creates the mount point and mounts it. A mount point cannot be renamed
// into place (rename(2) says EBUSY), so the one window where a kill leaves
// something behind, between creating /run/netns/NAME and mounting on it, is
// covered by the record written before: the next run recognises the empty
// file as its own and repairs it. A kill earlier leaves nothing (the kernel
// frees a namespace no one holds) or a record of nothing, which is dropped.
// Callers hold the lab lock.
func createNamespace(name string, transient bool) error {
	if err := prepareRunDir(); err != nil {
		return err
	}
	path := NamespacePath(name)
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("create namespace %q: %w", name, ErrExists)
	}
	ns, err := newNamespace()
	if err != nil {
		return fmt.Errorf("create namespace %q: %w", name, err)
	}
	defer ns.Close()
	id, err := IdentityOf(ns)
	if errors.Is(err, ErrNoCookie) {
		id, err = Identity{}, nil // recognised when half-made, never removed as a leftover
		id.Inode, _ = Inode(ns)
	}
	if err != nil {
		return fmt.Errorf("create namespace %q: %w", name, err)
	}
	if err := writeRecord(newRecord(name, id, transient)); err != nil {
		return err
	}
	crashPoint("recorded")
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		removeRecord(name)
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create namespace %q: %w", name, ErrExists)
		}
		return fmt.Errorf("create namespace %q: %w", name, err)
	}
	unix.Close(fd)
	crashPoint("mountpoint")
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", int(ns)), path, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		removeRecord(name)
		return fmt.Errorf("create namespace %q: bind mount: %w", name, err)
	}
	crashPoint("mounted")
	if !transient {
		removeRecord(name)
	}
	return nil
}

// newNamespace returns a new network namespace, held only by the returned
// handle: the thread that made it goes back to where it was.
func newNamespace() (netns.NsHandle, error) {
	ns := netns.None()
	err := onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return nil
	}, func() error {
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the new namespace: %w", err)
		}
		ns = netns.NsHandle(fd)
		return nil
	})
	return ns, err
}

// entry is what a name under /run/netns holds.
type entry int

const (
	entryMissing   entry = iota
	entryNamespace       // a namespace mount
	entryHalfMade        // an empty regular file: a creation killed before its mount
	entryOther           // anything else (a directory, a file with data): never touched
)

func entryState(name string) entry {
	path := NamespacePath(name)
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return entryMissing
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return entryOther
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err == nil && fs.Type == unix.NSFS_MAGIC {
		return entryNamespace
	}
	if st.Size == 0 {
		return entryHalfMade
	}
	return entryOther
}

// removeHalfMade unlinks an empty mount point, as `ip netns del` would. Were
// a namespace mounted on it meanwhile, unlink would fail with EBUSY: it
// never removes a namespace.
func removeHalfMade(name string) error {
	if entryState(name) != entryHalfMade {
		return nil
	}
	if err := unix.Unlink(NamespacePath(name)); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove the empty %s: %w", NamespacePath(name), err)
	}
	return nil
}

func halfMadeDone(name string) string {
	return cmdline.Command{"ip", "netns", "del", name}.String() + "    # an empty file, not a namespace: its creation was interrupted"
}

// DeleteNamespace removes a named namespace as `ip netns del` does. The
// kernel frees the namespace, and the interfaces in it, once nothing holds it.
func DeleteNamespace(name string) error {
	if err := ValidateNamespace(name); err != nil {
		return err
	}
	path := NamespacePath(name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete namespace %q: %w", name, ErrNoNamespace)
		}
		return fmt.Errorf("delete namespace %q: unmount: %w", name, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete namespace %q: %w", name, err)
	}
	return nil
}

// prepareRunDir makes /run/netns a shared mount point, binding it onto
// itself first when it is not a mount point yet, as iproute2's netns_add
// does: under a flock of the directory (which `ip netns add` also takes), and
// through a private mount so that the new mount lands in a peer group of
// its own.
func prepareRunDir() error {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", RunDir, err)
	}
	if dir, err := unix.Open(RunDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		defer unix.Close(dir) // closing releases the lock
		unix.Flock(dir, unix.LOCK_EX)
	}
	made := false
	for {
		err := unix.Mount("", RunDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || made {
			return fmt.Errorf("make %s a shared mount: %w", RunDir, err)
		}
		if err := unix.Mount(RunDir, RunDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount %s: %w", RunDir, err)
		}
		if err := unix.Mount("", RunDir, "none", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("make %s a private mount: %w", RunDir, err)
		}
		made = true
	}
}

// Inode returns the namespace's inode number, the identity `ip netns
// identify` and /proc/PID/ns/net show.
func Inode(ns netns.NsHandle) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}
