package topology

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Sysctl reads /proc/sys/PATH as seen from inside the namespace.
func (ts *Targets) Sysctl(ns, path string) (string, error) {
	if strings.Contains(path, "..") {
		return "", fmt.Errorf("sysctl path %q", path)
	}
	return ts.procFileIn(ns, filepath.Join("/proc/sys", path))
}

// procFileIn reads a /proc file opened from a thread inside the namespace:
// /proc/sys/net and /proc/thread-self/net follow the opener's namespace.
func (ts *Targets) procFileIn(ns, path string) (string, error) {
	h, err := ts.OpenNamespace(ns)
	if err != nil {
		return "", err
	}
	defer h.Close()
	return procFileAt(h, ns, path)
}

// procFileAt is procFileIn of the namespace h, open already, named ns.
func procFileAt(h netns.NsHandle, ns, path string) (string, error) {
	fd := -1
	err := Do(h, func() error {
		var err error
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read %s in %q: %w", path, ns, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<16))
	return string(b), err
}

// NetCounters returns the kernel's protocol counters of the namespace
// (/proc/net/snmp and /proc/net/netstat), keyed "Proto:Name", e.g.
// "TcpExt:IPReversePathFilter".
func (ts *Targets) NetCounters(ns string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, name := range []string{"snmp", "netstat"} {
		text, err := ts.procFileIn(ns, "/proc/thread-self/net/"+name)
		if err != nil {
			return nil, err
		}
		lines := strings.Split(text, "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			keys, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			if len(keys) != len(vals) || len(keys) < 2 || keys[0] != vals[0] {
				continue
			}
			proto := strings.TrimSuffix(keys[0], ":")
			for j := 1; j < len(keys); j++ {
				if v, err := strconv.ParseUint(vals[j], 10, 64); err == nil {
					out[proto+":"+keys[j]] = v
				}
			}
		}
	}
	return out, nil
}

// ProcNetFile reads /proc/net/NAME (tcp, tcp6, ...) as the namespace sees it.
func (ts *Targets) ProcNetFile(ns, name string) (string, error) {
	if strings.ContainsAny(name, "/.") {
		return "", fmt.Errorf("proc net file %q", name)
	}
	return ts.procFileIn(ns, "/proc/thread-self/net/"+name)
}

// NetCounters is ts.NetCounters of a nil Targets: by name, nothing held.
func NetCounters(ns string) (map[string]uint64, error) {
	return (*Targets)(nil).NetCounters(ns)
}

// ProcNetFile is ts.ProcNetFile of a nil Targets: by name, nothing held.
func ProcNetFile(ns, name string) (string, error) {
	return (*Targets)(nil).ProcNetFile(ns, name)
}

// Sysctl is ts.Sysctl of a nil Targets: by name, nothing held.
func Sysctl(ns, path string) (string, error) {
	return (*Targets)(nil).Sysctl(ns, path)
}
