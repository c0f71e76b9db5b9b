package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/nsdump/nsdump/containers"
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
// this identity, if an engine knows one.
func containerIn(ino, dev uint64) (containers.Container, bool) {
	all, _ := containers.List(context.Background())
	for _, c := range all {
		var st unix.Stat_t
		if unix.Stat(procNet(c.PID), &st) == nil && st.Ino == ino && st.Dev == dev {
			return c, true
		}
	}
	return containers.Container{}, false
}

// heldContainerPID is the pid behind a held target shown by a container's
// name, which iproute2 cannot take as a namespace name.
func heldContainerPID(name string) (int, bool) {
	held.Lock()
	defer held.Unlock()
	n, ok := held.m[name]
	if !ok || n.Container == nil || n.Name != name {
		return 0, false
	}
	return n.PID, true
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
