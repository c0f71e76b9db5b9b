package topology

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

var neighStates = map[int]string{
	netlink.NUD_INCOMPLETE: "INCOMPLETE", netlink.NUD_REACHABLE: "REACHABLE", netlink.NUD_STALE: "STALE",
	netlink.NUD_DELAY: "DELAY", netlink.NUD_PROBE: "PROBE", netlink.NUD_FAILED: "FAILED",
	netlink.NUD_NOARP: "NOARP", netlink.NUD_PERMANENT: "PERMANENT",
}

// NeighborState is the state `ip -n NS neigh` shows for addr, or "" when
// the table has no entry.
func NeighborState(ns string, addr netip.Addr) (string, error) {
	h, err := openHandle(ns)
	if err != nil {
		return "", err
	}
	defer h.Close()
	family := netlink.FAMILY_V4
	if addr.Is6() {
		family = netlink.FAMILY_V6
	}
	neighs, err := h.nl.NeighList(0, family)
	if err != nil {
		return "", fmt.Errorf("list neighbours in %q: %w", ns, err)
	}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == addr {
			if s, ok := neighStates[n.State]; ok {
				return s, nil
			}
			return fmt.Sprint(n.State), nil
		}
	}
	return "", nil
}

// Sysctl reads /proc/sys/PATH as seen from inside the namespace: the file
// is opened there, since /proc/sys/net follows the opener's namespace.
func Sysctl(ns, path string) (string, error) {
	if strings.Contains(path, "..") {
		return "", fmt.Errorf("sysctl path %q", path)
	}
	h, err := OpenNamespace(ns)
	if err != nil {
		return "", err
	}
	defer h.Close()
	fd := -1
	err = Do(h, func() error {
		var err error
		fd, err = unix.Open(filepath.Join("/proc/sys", path), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read sysctl %s in %q: %w", path, ns, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	return string(b), err
}
