package topology

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNoCookie is returned on kernels without SO_NETNS_COOKIE (before 5.14):
// nsdump then cannot prove a namespace is the one it made.
var ErrNoCookie = errors.New("the kernel has no network namespace cookies (SO_NETNS_COOKIE, Linux 5.14)")

// Identity tells network namespaces apart. The inode is what `ip netns
// identify` and /proc/PID/ns/net show, but the kernel reuses it once a
// namespace is freed; the cookie is a 64-bit counter the kernel gives each
// namespace at creation and never gives again until reboot.
type Identity struct {
	Inode  uint64 `json:"inode"`
	Cookie uint64 `json:"cookie"`
}

// IdentityOf reads the identity of an open namespace. The cookie comes from
// a socket made inside it: SO_NETNS_COOKIE answers for the socket's namespace.
func IdentityOf(ns netns.NsHandle) (Identity, error) {
	ino, err := Inode(ns)
	if err != nil {
		return Identity{}, fmt.Errorf("namespace inode: %w", err)
	}
	fd := -1
	err = Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return Identity{}, fmt.Errorf("socket in namespace net:[%d]: %w", ino, err)
	}
	defer unix.Close(fd)
	cookie, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if errors.Is(err, unix.ENOPROTOOPT) {
		return Identity{}, ErrNoCookie
	}
	if err != nil {
		return Identity{}, fmt.Errorf("namespace cookie of net:[%d]: %w", ino, err)
	}
	return Identity{Inode: ino, Cookie: cookie}, nil
}

// NamespaceIdentity is IdentityOf the namespace named name.
func (ts *Targets) NamespaceIdentity(name string) (Identity, error) {
	ns, err := ts.OpenNamespace(name)
	if err != nil {
		return Identity{}, err
	}
	defer ns.Close()
	return IdentityOf(ns)
}

// NamespaceIdentity is ts.NamespaceIdentity of a nil Targets: by name, nothing held.
func NamespaceIdentity(name string) (Identity, error) {
	return (*Targets)(nil).NamespaceIdentity(name)
}
