package trace

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// sinkInterface creates in ns an interface name that takes packets and
// loses them: a dummy where the kernel has the driver, else a tun device
// the test holds open and reads everything from, discarding it (what a
// dummy does: the packet leaves by it and vanishes). It returns which.
func sinkInterface(t *testing.T, ns, name string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "link", "add", name, "type", "dummy").CombinedOutput()
	if err == nil {
		return "dummy"
	}
	if !strings.Contains(string(out), "Unknown device type") && !strings.Contains(string(out), "not supported") {
		t.Fatalf("ip link add %s type dummy: %v\n%s", name, err, out)
	}
	h, err := topology.OpenNamespace(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var f *os.File
	// The tun device is made in the namespace whose thread opens it; it
	// goes when the file closes.
	err = topology.Do(h, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		var req struct {
			name  [unix.IFNAMSIZ]byte
			flags uint16
			_     [22]byte
		}
		copy(req.name[:], name)
		req.flags = unix.IFF_TUN | unix.IFF_NO_PI
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); e != 0 {
			unix.Close(fd)
			return e
		}
		f = os.NewFile(uintptr(fd), "/dev/net/tun")
		return nil
	})
	if err != nil {
		t.Fatalf("no dummy driver, and no tun device %s in %s: %v", name, ns, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<16)
		for {
			if _, err := f.Read(buf); errors.Is(err, os.ErrClosed) {
				return
			}
		}
	}()
	t.Cleanup(func() { f.Close(); <-done })
	return "tun (this kernel has no dummy driver)"
}
