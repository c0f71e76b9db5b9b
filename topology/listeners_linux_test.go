package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
	"golang.org/x/sys/unix"
)

// socketIn opens a socket inside ns bound to addr (listening for TCP),
// closed when the test ends. An IPv6 socket on an odd port is v6only.
func socketIn(t *testing.T, ns Held, typ int, addr netip.AddrPort, connect *netip.AddrPort) {
	t.Helper()
	family := unix.AF_INET
	if addr.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd := -1
	err := Do(ns.Handle, func() error {
		var err error
		fd, err = unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	sa := func(a netip.AddrPort) unix.Sockaddr {
		if a.Addr().Is6() {
			return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
		}
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
	}
	if addr.Addr().Is6() && addr.Port()%2 == 1 {
		// odd IPv6 ports: v6only, as ss writes "[::]"
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Bind(fd, sa(addr)); err != nil {
		t.Fatalf("bind %s: %v", addr, err)
	}
	switch {
	case typ == unix.SOCK_STREAM:
		err = unix.Listen(fd, 8)
	case connect != nil:
		err = unix.Connect(fd, sa(*connect))
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestListeners(t *testing.T) {
	ns := ksNamespace(t)
	ap := netip.MustParseAddrPort
	socketIn(t, ns, unix.SOCK_STREAM, ap("127.0.0.1:7096"), nil)
	socketIn(t, ns, unix.SOCK_STREAM, ap("[::]:7094"), nil)
	socketIn(t, ns, unix.SOCK_STREAM, ap("[::]:7095"), nil)
	socketIn(t, ns, unix.SOCK_DGRAM, ap("0.0.0.0:7096"), nil)
	peer := ap("127.0.0.1:9")
	socketIn(t, ns, unix.SOCK_DGRAM, ap("127.0.0.1:7098"), &peer)
	tests := []struct {
		proto string
		port  uint16
		want  []string
	}{
		{"tcp", 7096, []string{"127.0.0.1:7096"}},
		{"tcp", 7094, []string{"*:7094"}},
		{"tcp", 7095, []string{"[::]:7095"}},
		{"udp", 7096, []string{"0.0.0.0:7096"}},
		{"udp", 7098, nil}, // connected: takes its peer's packets only
		{"tcp", 7099, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.proto, tt.port), func(t *testing.T) {
			ls, err := Listeners(ns, tt.proto, tt.port)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range ls {
				got = append(got, ssWord(l))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Listeners = %v; want %v", got, tt.want)
			}
			if ss := ssLocal(t, ns, tt.proto, tt.port); !slices.Equal(got, ss) {
				t.Errorf("Listeners = %v; ss shows %v", got, ss)
			}
		})
	}
	ls, _ := Listeners(ns, "tcp", 7096)
	if len(ls) != 1 || ls[0].Accepts(netip.MustParseAddr("10.1.2.3")) || !ls[0].Accepts(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("127.0.0.1 listener %v accepts wrongly", ls)
	}
	v4 := netip.MustParseAddr("10.1.2.3")
	for port, want := range map[uint16]bool{7094: true, 7095: false} {
		if ls, _ := Listeners(ns, "tcp", port); len(ls) != 1 || ls[0].Accepts(v4) != want {
			t.Errorf("[::]:%d %v accepts IPv4: want %v", port, ls, want)
		}
	}
	if got := nsstate.Only(ls); got != "something listens on 127.0.0.1:7096 only" {
		t.Errorf("Only = %q", got)
	}
	if _, err := Listeners(ns, "sctp", 1); err == nil {
		t.Error("sctp accepted")
	}
}

// ssLocal is ss's local address column for port's listening sockets.
func ssLocal(t *testing.T, ns Held, proto string, port uint16) []string {
	flag := "-Hltn"
	if proto == "udp" {
		flag = "-Hlun"
	}
	var out []string
	for _, line := range strings.Split(inNS(t, ns, "ss", flag), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.HasSuffix(f[3], fmt.Sprintf(":%d", port)) {
			out = append(out, f[3])
		}
	}
	return out
}

// ssWord writes a listener's address as ss does: a dual-stack IPv6
// wildcard as "*".
func ssWord(l nsstate.Listener) string {
	if l.Local.Addr() == netip.IPv6Unspecified() && !l.V6Only {
		return fmt.Sprintf("*:%d", l.Local.Port())
	}
	return l.Local.String()
}
