package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RunDir is where iproute2 keeps named network namespaces as bind mounts.
const RunDir = "/run/netns"

var (
	// ErrNoNamespace is returned for a named namespace that does not exist.
	ErrNoNamespace = errors.New("no such namespace (see ip netns list)")
	// ErrExists is returned when a name is already taken.
	ErrExists = errors.New("already exists")
)

// NamespacePath is the file that names the namespace.
func NamespacePath(name string) string { return filepath.Join(RunDir, name) }

// OpenNamespace opens a named namespace as iproute2 would find it.
func OpenNamespace(name string) (netns.NsHandle, error) {
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
		return netns.None(), fmt.Errorf("namespace %q: %s is not a namespace mount: %w", name, path, ErrNoNamespace)
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

// CreateNamespace makes a new named network namespace exactly as
// `ip netns add` does: a bind mount of a fresh namespace on /run/netns/NAME,
// with /run/netns a shared mount so that other mount namespaces see it.
func CreateNamespace(name string) error {
	if err := ValidateNamespace(name); err != nil {
		return err
	}
	if err := prepareRunDir(); err != nil {
		return err
	}
	path := NamespacePath(name)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create namespace %q: %w", name, ErrExists)
		}
		return fmt.Errorf("create namespace %q: %w", name, err)
	}
	unix.Close(fd)
	err = onThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return nil
	}, func() error {
		return unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, "")
	})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("create namespace %q: %w", name, err)
	}
	return nil
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
// itself first when it is not a mount point yet (iproute2's netns_add).
func prepareRunDir() error {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", RunDir, err)
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
