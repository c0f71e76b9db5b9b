// Command flood sends small UDP datagrams with sendmmsg as fast as it can,
// for capture benchmarks between test namespaces. It is bounded by count
// and by time, and sends only to the address it is given, from inside
// whatever namespace it runs in (ip netns exec NS flood ...).
// Usage: flood -dst 172.24.2.1 -n 2000000 -t 10s
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

func main() {
	dst := flag.String("dst", "", "IPv4 address to flood (inside the lab)")
	port := flag.Int("port", 9, "UDP port")
	n := flag.Int("n", 1_000_000, "datagrams to send")
	limit := flag.Duration("t", 10*time.Second, "stop after this long even if -n is not reached")
	size := flag.Int("size", 22, "UDP payload bytes (22 makes a 64-byte Ethernet frame)")
	flag.Parse()
	addr, err := netip.ParseAddr(*dst)
	if err != nil || !addr.Is4() || !addr.IsPrivate() {
		fmt.Fprintln(os.Stderr, "flood: -dst must be a private IPv4 address of the lab")
		os.Exit(2)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(2)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: addr.As4(), Port: *port}); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(2)
	}
	const batch = 64
	payload := make([]byte, *size)
	iov := unix.Iovec{Base: &payload[0]}
	iov.SetLen(len(payload))
	msgs := make([]mmsghdr, batch)
	for i := range msgs {
		msgs[i].hdr.Iov = &iov
		msgs[i].hdr.SetIovlen(1)
	}
	sent, start := 0, time.Now()
	for sent < *n && time.Since(start) < *limit {
		want := min(batch, *n-sent)
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(want), 0, 0, 0)
		if errno != 0 {
			if errno == unix.ENOBUFS || errno == unix.EAGAIN || errno == unix.ECONNREFUSED {
				continue
			}
			fmt.Fprintln(os.Stderr, "flood:", errno)
			os.Exit(1)
		}
		sent += int(r)
	}
	el := time.Since(start)
	fmt.Printf("%d datagrams in %.2f s (%.0f/s)\n", sent, el.Seconds(), float64(sent)/el.Seconds())
}
