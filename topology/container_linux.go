package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/nsdump/nsdump/containers"
	"github.com/nsdump/nsdump/topology/nsstate"
	"golang.org/x/sys/unix"
)

// resolveContainer finds the running container a target names: an engine
// target, or a bare name no /run/netns entry has.
func resolveContainer(spec string) (containers.Container, error) {
	ref := containers.Ref{Name: spec}
	if containers.IsTarget(spec) {
		var err error
		if ref, err = containers.Parse(spec); err != nil {
			return containers.Container{}, err
		}
	}
	c, err := containers.Resolve(context.Background(), ref)
	if err == nil {
		return c, nil
	}
	var amb *containers.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return c, fmt.Errorf("namespace %w", err)
	case ref.Engine == "" && errors.Is(err, containers.ErrNoContainer):
		// Neither a name under /run/netns nor a container: say both.
		return c, fmt.Errorf("namespace %q: %w, and no container has that name (nsdump ls --containers lists them)", spec, ErrNoNamespace)
	}
	return c, fmt.Errorf("namespace %w", err)
}

// bareContainer reports whether a bare name should be asked of the
// engines: no /run/netns entry has it, and it could name a container.
func bareContainer(name string) bool {
	if !containers.ValidBare(name) {
		return false
	}
	_, err := os.Lstat(NamespacePath(name))
	return errors.Is(err, os.ErrNotExist)
}

// containerIn is the container whose process holds the namespace with
// this identity, if an engine knows one: pid's, else the lowest process's.
func containerIn(pid int, ino, dev uint64) (containers.Container, bool) {
	if pid <= 0 {
		pids := PIDsIn(ino, 1)
		if len(pids) == 0 {
			return containers.Container{}, false
		}
		pid = pids[0]
	}
	key := containerKey{ino, dev, pid}
	if c, ok := cachedContainer(key); ok {
		return deref(c), c != nil && inNamespace(c.PID, ino, dev)
	}
	c, ok := containers.OfProcess(context.Background(), pid)
	ok = ok && inNamespace(c.PID, ino, dev) // not a container sharing another's namespace, nor gone
	if ok {
		storeContainer(key, &c)
	} else {
		storeContainer(key, nil)
	}
	return c, ok
}

func inNamespace(pid int, ino, dev uint64) bool {
	var st unix.Stat_t
	return unix.Stat(procNet(pid), &st) == nil && st.Ino == ino && st.Dev == dev
}

func deref(c *containers.Container) containers.Container {
	if c == nil {
		return containers.Container{}
	}
	return *c
}

// containerKey is a namespace and the process asked about it: a trace
// holds the namespaces behind every port of a bridge, several times over,
// and each engine call costs milliseconds. With the process in the key, a
// namespace inode the kernel reuses later is asked about afresh.
type containerKey struct {
	ino, dev uint64
	pid      int
}

var containerCache = struct {
	sync.Mutex
	m map[containerKey]*containers.Container // nil: no container
}{m: map[containerKey]*containers.Container{}}

func cachedContainer(k containerKey) (*containers.Container, bool) {
	containerCache.Lock()
	defer containerCache.Unlock()
	c, ok := containerCache.m[k]
	return c, ok
}

func storeContainer(k containerKey, c *containers.Container) {
	containerCache.Lock()
	defer containerCache.Unlock()
	containerCache.m[k] = c
}

// stateContainer is the container whose namespace a state read under
// the name ns is: a held target's, or for pid:N the container of process
// N, if an engine knows one (a namespace found behind a bridge port).
func (ts *Targets) stateContainer(ns string) *nsstate.Container {
	if c := ts.ContainerOf(ns); c != nil {
		return c
	}
	rest, ok := strings.CutPrefix(ns, "pid:")
	pid, err := strconv.Atoi(rest)
	if !ok || err != nil {
		return nil
	}
	var st unix.Stat_t
	if unix.Stat(procNet(pid), &st) != nil {
		return nil
	}
	c, found := containerIn(pid, st.Ino, st.Dev)
	if !found {
		return nil
	}
	return &nsstate.Container{Engine: c.Engine, Name: c.Name, ID: c.ID}
}

// container is the container of the namespace ts holds as name, or nil.
func (ts *Targets) container(name string) *containers.Container {
	if ts == nil {
		return nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if n, ok := ts.m[name]; ok {
		return n.Container
	}
	return nil
}

// HoldContainer holds the namespace of a container already found (by
// containers.List) in ts: no engine is asked again. Close releases it.
func (ts *Targets) HoldContainer(c containers.Container) (*NetNS, error) {
	key := c.Target()
	if ts == nil {
		return nil, errors.New("hold container " + key + ": no Targets to hold it in")
	}
	if n := ts.lookup(key); n != nil {
		return n, nil
	}
	n := &NetNS{Spec: key, fd: -1, pidfd: -1, Container: &c, PID: c.PID, ts: ts}
	if err := n.open(procNet(c.PID)); err != nil {
		return nil, err
	}
	n.Name = c.Display()
	return ts.register(n, key), nil
}

// containerExists reports whether a bare word or container target names a
// running container; capture tells its targets from its filter with it.
func containerExists(word string) bool {
	if !containers.IsTarget(word) && !bareContainer(word) {
		return false
	}
	c, err := resolveContainer(word)
	if err != nil {
		return false
	}
	_, err = os.Stat("/proc/" + strconv.Itoa(c.PID))
	return err == nil
}
