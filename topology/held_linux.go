package topology

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Held is a network namespace the caller holds open (a NetNS's descriptor,
// an OpenNamespace handle) with the name errors show. The gathering
// functions never close it and never resolve the name again.
type Held struct {
	Handle netns.NsHandle
	Name   string
}

func (h Held) unreadable(what string, err error) error {
	return &Unreadable{What: what, Namespace: h.Name, Err: err}
}

// netlinkHandle makes a netlink handle inside the namespace, through Do, for
// route and socket-diagnosis requests. Both families are opened there: the
// handle would open a missing one lazily in the caller's namespace.
func (h Held) netlinkHandle() (*netlink.Handle, error) {
	var nh *netlink.Handle
	err := Do(h.Handle, func() error {
		var err error
		nh, err = netlink.NewHandle(unix.NETLINK_ROUTE, unix.NETLINK_INET_DIAG)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink in namespace %s: %w", h.Name, err)
	}
	return nh, nil
}

// routeSocket is a raw NETLINK_ROUTE socket made inside the namespace, for
// requests netlink does not decode in full (rule-aware lookups, bridge port
// state).
func (h Held) routeSocket() (int, error) {
	fd := -1
	err := Do(h.Handle, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return -1, fmt.Errorf("netlink socket in namespace %s: %w", h.Name, err)
	}
	tv := unix.Timeval{Sec: 10}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
