package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/containers"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrHolderExited marks a target given as a process (pid:N, /proc/N/ns/net)
// whose process exited while the command used its namespace.
var ErrHolderExited = errors.New("exited")

// NetNS is a network namespace held open by fd for the whole command, so
// that its identity cannot change under the command however the process or
// mount that named it changes.
type NetNS struct {
	// Name is how the namespace is shown: its name under /run/netns when one
	// has the same inode, else pid:N, else the path it was opened by.
	Name  string
	Spec  string // as the user wrote it
	Inode uint64
	Dev   uint64
	PID   int // the process a pid:N, /proc/N/ns/net or container target named; 0 otherwise
	// Container is the container whose namespace this is, when a target
	// named one or an engine knows the namespace.
	Container *containers.Container

	fd     int
	pidfd  int      // -1 unless PID
	unshow func()   // forgets the process cmdline enters a container by
	refs   int      // holds in ts
	ts     *Targets // that holds it
}

// Targets are the namespaces a command holds open for its lifetime, by
// the spec the user wrote and by the name shown: the command opens each
// target once (Hold) and passes its Targets down, so that every later
// OpenNamespace, Inspect, RouteGet... of that spec or name through it
// reaches the very namespace held, never one found again by name. There
// is no registry besides the ones commands make. A nil *Targets holds
// nothing: its methods open by name.
type Targets struct {
	mu    sync.Mutex
	m     map[string]*NetNS
	hints peerHints // far ends of veths lately found (peer_linux.go)
}

// NewTargets returns an empty set of held targets.
func NewTargets() *Targets { return &Targets{m: map[string]*NetNS{}} }

// Hold opens a target and pins it in ts until Close: later calls through
// ts by its spec or its Name reach this namespace.
func (ts *Targets) Hold(spec string) (*NetNS, error) {
	if ts == nil {
		return nil, errors.New("hold namespace " + spec + ": no Targets to hold it in")
	}
	if err := ValidateTarget(spec); err != nil {
		return nil, err
	}
	if n := ts.lookup(spec); n != nil {
		return n, nil
	}
	n, err := ts.openTarget(spec)
	if err != nil {
		return nil, err
	}
	return ts.register(n, spec), nil
}

// lookup returns the target held under key with one more hold, or nil.
func (ts *Targets) lookup(key string) *NetNS {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if n, ok := ts.m[key]; ok {
		n.refs++
		return n
	}
	return nil
}

// register pins an opened namespace under key and its display name, or
// returns the one another goroutine registered under key meanwhile.
func (ts *Targets) register(n *NetNS, key string) *NetNS {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if old, ok := ts.m[key]; ok {
		n.close()
		old.refs++
		return old
	}
	n.refs, n.ts = 1, ts
	ts.m[key] = n
	if _, taken := ts.m[n.Name]; !taken {
		ts.m[n.Name] = n
	}
	if n.Container != nil && ts.m[n.Name] == n {
		n.unshow = cmdline.ShowAs(n.Name, n.PID)
		if undo, err := cmdline.ShowContainer(n.Name, n.Container.Engine, n.Container.Name); err == nil {
			// Docker's and Podman's: entered by the pid the engine gives
			// when a printed command runs, right after a restart too.
			pid := n.unshow
			n.unshow = func() { undo(); pid() }
		}
	}
	return n
}

// Close releases a hold; the namespace is closed with the last one.
func (n *NetNS) Close() {
	if n == nil {
		return
	}
	ts := n.ts
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if n.refs--; n.refs > 0 {
		return
	}
	for k, v := range ts.m {
		if v == n {
			delete(ts.m, k)
		}
	}
	if n.unshow != nil {
		n.unshow()
	}
	n.close()
}

func (n *NetNS) close() {
	unix.Close(n.fd)
	if n.pidfd >= 0 {
		unix.Close(n.pidfd)
	}
}

// dupHeld returns a fresh fd of the namespace held under key.
func (ts *Targets) dupHeld(key string) (netns.NsHandle, bool, error) {
	if ts == nil {
		return netns.None(), false, nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n, ok := ts.m[key]
	if !ok {
		return netns.None(), false, nil
	}
	fd, err := unix.FcntlInt(uintptr(n.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return netns.None(), true, fmt.Errorf("namespace %s: %w", n.Name, err)
	}
	return netns.NsHandle(fd), true, nil
}

// openTarget opens a target and works out its identity and display name,
// preferring the names ts shows already.
func (ts *Targets) openTarget(spec string) (*NetNS, error) {
	n := &NetNS{Spec: spec, fd: -1, pidfd: -1, ts: ts}
	path, err := n.locate()
	if err != nil {
		return nil, err
	}
	named := IsNamed(spec) && n.Container == nil
	if err := n.open(path); err != nil {
		return nil, err
	}
	switch {
	case named:
		// The name under /run/netns it was opened by, unless the command
		// holds the namespace already: one namespace, one name (a podman
		// container's namespace is also /run/netns/netns-UUID).
		n.Name = ts.nameOf(n.Inode, n.Dev, spec)
	case n.Container != nil:
		n.Name = n.Container.Display()
	default:
		n.Name = n.displayName(n.Inode, n.Dev)
	}
	return n, nil
}

// open opens the namespace file at path, after a pidfd of the process
// behind it if any, and reads its identity.
func (n *NetNS) open(path string) error {
	spec := n.Spec
	if n.PID > 0 {
		// The pidfd comes first: if the process is still alive after the
		// namespace is open, the namespace is that process's.
		fd, err := unix.PidfdOpen(n.PID, 0)
		if err != nil {
			return fmt.Errorf("namespace %s: process %d: %w", spec, n.PID, noSuchProcess(err))
		}
		n.pidfd = fd
	}
	fd, err := openNetNSFile(spec, path)
	if err != nil {
		exited := n.PID > 0 && n.HolderExited()
		n.close()
		if exited {
			return fmt.Errorf("namespace %s: process %d %w", spec, n.PID, ErrHolderExited)
		}
		return err
	}
	n.fd = int(fd)
	if n.PID > 0 && n.HolderExited() {
		n.close()
		return fmt.Errorf("namespace %s: process %d %w", spec, n.PID, ErrHolderExited)
	}
	var st unix.Stat_t
	if err := unix.Fstat(n.fd, &st); err != nil {
		n.close()
		return fmt.Errorf("namespace %s: %w", spec, err)
	}
	n.Inode, n.Dev = st.Ino, st.Dev
	return nil
}

// locate returns the file that opens the target's namespace, and sets the
// process (pid:N, /proc/N/ns/net, a container) that holds it.
func (n *NetNS) locate() (string, error) {
	spec := n.Spec
	if rest, ok := strings.CutPrefix(spec, "pid:"); ok {
		n.PID, _ = parsePID(rest)
		return procNet(n.PID), nil
	}
	if pid, ok := procNetPID(spec); ok {
		n.PID = pid
		return spec, nil
	}
	if containers.IsTarget(spec) || IsNamed(spec) && bareContainer(spec) {
		c, err := resolveContainer(spec)
		if err != nil {
			return "", err
		}
		n.Container, n.PID = &c, c.PID
		return procNet(c.PID), nil
	}
	if IsNamed(spec) {
		return NamespacePath(spec), nil
	}
	return spec, nil
}

func procNet(pid int) string { return fmt.Sprintf("/proc/%d/ns/net", pid) }

func noSuchProcess(err error) error {
	if errors.Is(err, unix.ESRCH) {
		return errors.New("no such process")
	}
	return err
}

// openNetNSFile opens path and checks that it is a network namespace.
func openNetNSFile(spec, path string) (netns.NsHandle, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT) && IsNamed(spec):
			return netns.None(), fmt.Errorf("namespace %q: %w", spec, ErrNoNamespace)
		case errors.Is(err, unix.ENOENT):
			return netns.None(), fmt.Errorf("namespace %s: %s does not exist", spec, path)
		}
		return netns.None(), fmt.Errorf("open namespace %s: %w", spec, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		unix.Close(fd)
		if IsNamed(spec) {
			return netns.None(), fmt.Errorf("namespace %q: %s %w: %w", spec, path, ErrNotNamespace, ErrNoNamespace)
		}
		return netns.None(), fmt.Errorf("namespace %s: %s is not a namespace file (nsfs)", spec, path)
	}
	if t, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWNET {
		unix.Close(fd)
		return netns.None(), fmt.Errorf("namespace %s: %s is not a network namespace", spec, path)
	}
	return netns.NsHandle(fd), nil
}

// openUnheld opens a pid:N or path target afresh, for callers that did not
// Hold it.
func openUnheld(spec string) (netns.NsHandle, error) {
	if err := ValidateTarget(spec); err != nil {
		return netns.None(), err
	}
	n, err := (*Targets)(nil).openTarget(spec)
	if err != nil {
		return netns.None(), err
	}
	if n.pidfd >= 0 {
		unix.Close(n.pidfd)
	}
	return netns.NsHandle(n.fd), nil
}

// displayName is the name the command shows the namespace by already,
// else the container's name (which it notes), else the /run/netns name
// with the same identity, else pid:N (the process named, or the
// lowest that holds it), else the path.
func (n *NetNS) displayName(ino, dev uint64) string {
	spec, pid := n.Spec, n.PID
	if name := n.ts.nameOf(ino, dev, ""); name != "" {
		return name
	}
	if c, ok := containerIn(pid, ino, dev); ok {
		n.Container = &c
		return c.Display()
	}
	if name := NameOf(ino, dev); name != "" {
		return name
	}
	if pid > 0 {
		return "pid:" + strconv.Itoa(pid)
	}
	if pids := PIDsIn(ino, 1); len(pids) > 0 {
		return "pid:" + strconv.Itoa(pids[0])
	}
	return spec
}

// NameOf returns the name under /run/netns of the namespace with this inode
// and device, or "".
func NameOf(ino, dev uint64) string {
	names, _ := ListNamespaces()
	for _, name := range names {
		var st unix.Stat_t
		if unix.Stat(NamespacePath(name), &st) == nil && st.Ino == ino && st.Dev == dev {
			return name
		}
	}
	return ""
}

// PIDsIn returns up to max processes (max <= 0: all) whose network
// namespace has this inode, lowest first.
func PIDsIn(ino uint64, max int) []int {
	want := fmt.Sprintf("net:[%d]", ino)
	var out []int
	for _, pid := range allPIDs() {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && link == want {
			out = append(out, pid)
			if max > 0 && len(out) == max {
				break
			}
		}
	}
	return out
}

// allPIDs lists /proc's processes in ascending order.
func allPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids
}

// HolderExited reports whether the process a pid target named has exited.
func (n *NetNS) HolderExited() bool {
	if n.pidfd < 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(n.pidfd), Events: unix.POLLIN}}
	k, err := unix.Poll(fds, 0)
	return err == nil && k > 0
}

// WaitHolders blocks until the process behind one of the targets exits,
// and returns an error naming it, or until ctx ends (nil). A namespace
// held by fd outlives its process, but a capture in it would go on seeing
// nothing: the user asked for that process's network.
func WaitHolders(ctx context.Context, targets []*NetNS) error {
	var fds []unix.PollFd
	var who []*NetNS
	for _, n := range targets {
		if n != nil && n.pidfd >= 0 {
			fds = append(fds, unix.PollFd{Fd: int32(n.pidfd), Events: unix.POLLIN})
			who = append(who, n)
		}
	}
	if len(fds) == 0 {
		<-ctx.Done()
		return nil
	}
	for ctx.Err() == nil {
		k, err := unix.Poll(fds, 100)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait for the processes behind the namespaces: %w", err)
		}
		for i := 0; k > 0 && i < len(fds); i++ {
			if fds[i].Revents != 0 {
				n := who[i]
				return fmt.Errorf("namespace %s: process %d %w; its network namespace is gone with it", n.Name, n.PID, ErrHolderExited)
			}
		}
	}
	return nil
}

// SplitTarget splits a capture word into a namespace target and an
// interface: NS, NS/IFACE, pid:N, pid:N/IFACE, /path/to/nsfs,
// /path/to/nsfs/IFACE, docker:NAME/IFACE and pod:NAMESPACE/NAME/IFACE. A path is split where the namespace file ends, which
// needs a stat; everything else is syntax.
func SplitTarget(word string) (ns, iface string, err error) {
	switch {
	case strings.HasPrefix(word, "/"):
		ns = word
		if !isNsfs(word) {
			if dir, base := filepath.Split(word); dir != "/" && isNsfs(filepath.Clean(dir)) {
				ns, iface = filepath.Clean(dir), base
			}
		}
	case strings.HasPrefix(word, containers.Containerd+":") || strings.HasPrefix(word, containers.Pod+":"):
		// NAMESPACE/NAME, then /IFACE
		ns = word
		if i := strings.Index(word, "/"); i >= 0 {
			if j := strings.Index(word[i+1:], "/"); j >= 0 {
				ns, iface = word[:i+1+j], word[i+2+j:]
			}
		}
	default:
		ns, iface, _ = strings.Cut(word, "/")
	}
	if err := ValidateTarget(ns); err != nil {
		return "", "", err
	}
	if iface != "" || strings.HasSuffix(word, "/") && !strings.HasPrefix(word, "/") {
		if err := ValidateInterface(iface); err != nil {
			return "", "", err
		}
	}
	return ns, iface, nil
}

// isNetNS reports whether path opens a network namespace.
func isNetNS(path string) bool {
	fd, err := openNetNSFile(path, path)
	if err != nil {
		return false
	}
	fd.Close()
	return true
}

func isNsfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// IsTarget reports whether a command-line word names an existing network
// namespace, alone or with /IFACE: a name under /run/netns, a namespace
// file, pid:N of a running process, or a running container. Capture uses it to tell targets from
// the filter words that follow them.
func (ts *Targets) IsTarget(word string) bool {
	ns, _, err := SplitTarget(word)
	if err != nil {
		return false
	}
	ok := false
	if ts != nil {
		ts.mu.Lock()
		_, ok = ts.m[ns]
		ts.mu.Unlock()
	}
	switch {
	case ok:
		return true
	case strings.HasPrefix(ns, "pid:"):
		return isNetNS("/proc/" + strings.TrimPrefix(ns, "pid:") + "/ns/net")
	case strings.HasPrefix(ns, "/"):
		return isNetNS(ns)
	case containers.IsTarget(ns):
		return containerExists(ns)
	}
	return NamespaceExists(ns) || containerExists(ns)
}

// ContainerOf is the container whose namespace the target ts holds under
// that spec or display name is, as facts record it; nil when it is no
// container's.
func (ts *Targets) ContainerOf(name string) *nsstate.Container {
	c := ts.container(name)
	if c == nil {
		return nil
	}
	return &nsstate.Container{Engine: c.Engine, Name: c.Name, ID: c.ID}
}

// Container describes the container whose namespace the target ts holds
// under that spec or display name is ("docker web 3f2a1b9c0d4e"), for the
// capture file's interface descriptions; empty when it is no container's.
func (ts *Targets) Container(name string) string {
	c := ts.container(name)
	if c == nil {
		return ""
	}
	id := c.ID
	if len(id) > 12 {
		id = id[:12]
	}
	return strings.TrimSpace(c.Engine + " " + c.Display() + " " + id)
}

// IsTarget is ts.IsTarget of a nil Targets: nothing held.
func IsTarget(word string) bool { return (*Targets)(nil).IsTarget(word) }
