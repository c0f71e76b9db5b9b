package topology

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsFD is the descriptor a child run by OutputIn finds the namespace on:
// its first extra file.
const nsFD = 3

// OutputIn runs prog with args inside the namespace ns and returns its
// standard output, as exec.Cmd.Output does. The child enters through the
// held descriptor (nsenter --net=/proc/self/fd/3), so it runs in the very
// namespace nsdump opened, whatever name, path or process named it, and
// no name is split into words or looked up again.
func OutputIn(ns netns.NsHandle, prog string, args ...string) ([]byte, error) {
	fd, err := unix.FcntlInt(uintptr(ns), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("run %s in a namespace: %w", prog, err)
	}
	f := os.NewFile(uintptr(fd), "netns")
	defer f.Close()
	cmd := exec.Command("nsenter", append([]string{fmt.Sprintf("--net=/proc/self/fd/%d", nsFD), "--", prog}, args...)...)
	cmd.ExtraFiles = []*os.File{f}
	return cmd.Output()
}

// netlinkIn opens a route netlink handle inside ns: the socket is made
// inside Do, the one switch of namespaces, and keeps its namespace
// afterwards (netlink.NewHandleAt would switch the calling thread itself).
func netlinkIn(ns netns.NsHandle) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := Do(ns, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	return h, err
}
