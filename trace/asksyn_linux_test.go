package trace

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAskSYNLeavesListenersAlone: the SYN a trace sends ahead of its
// probes, to learn where a DNAT takes them, is answered through a router
// in either family (its checksum is right), and the listener it reaches
// never gets a connection: one that serves a single one (nc -l) is still
// there for the probe.
func TestAskSYNLeavesListenersAlone(t *testing.T) {
	tp := newTopoPrefix(t, "n3n", "router", false, true)
	a, err := openSide(nil, tp.A)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.ns.Close() })
	b, err := openSide(nil, tp.B)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.ns.Close() })
	for _, c := range []struct{ src, dst string }{{tp.addrA, tp.addrB}, {"fd96:1::2", "fd96:2::2"}} {
		t.Run(c.dst, func(t *testing.T) {
			dst := netip.AddrPortFrom(netip.MustParseAddr(c.dst), 7096)
			fd, err := socketIn(b.ns, domain(dst.Addr()), unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if err := unix.Bind(fd, sockaddr(dst.Addr(), dst.Port())); err != nil {
				t.Fatal(err)
			}
			if err := unix.Listen(fd, 8); err != nil {
				t.Fatal(err)
			}
			if !askSYN(context.Background(), a.ns, netip.MustParseAddr(c.src), dst, 10*time.Second) {
				t.Fatalf("no answer to the SYN from %s to %s", c.src, dst)
			}
			// A connection made after it is the first the listener gets:
			// the SYN's would have come before it, on the same way.
			cfd, err := socketIn(a.ns, domain(dst.Addr()), unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(cfd)
			if err := unix.Connect(cfd, sockaddr(dst.Addr(), dst.Port())); err != nil {
				t.Fatal(err)
			}
			local, _ := unix.Getsockname(cfd)
			tv := unix.NsecToTimeval((10 * time.Second).Nanoseconds())
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
			nfd, peer, err := unix.Accept(fd)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(nfd)
			if port(peer) != port(local) {
				t.Errorf("the listener's first connection is from port %d, not the connect's %d: the SYN became one", port(peer), port(local))
			}
			closed := netip.AddrPortFrom(dst.Addr(), 7097)
			if !askSYN(context.Background(), a.ns, netip.MustParseAddr(c.src), closed, 10*time.Second) {
				t.Errorf("no reset from %s, where nothing listens", closed)
			}
		})
	}
}

func port(sa unix.Sockaddr) int {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa.Port
	case *unix.SockaddrInet6:
		return sa.Port
	}
	return -1
}
