package trace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/nsdump/nsdump/topology"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// socketIn creates a socket inside the namespace; it keeps that namespace
// wherever it is used afterwards.
func socketIn(ns netns.NsHandle, domain, typ, proto int) (int, error) {
	fd := -1
	err := topology.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
		return err
	})
	return fd, err
}

// echoResult is what one ICMP echo probe saw from the sender's socket.
type echoResult struct {
	ID      uint16
	Sent    int
	Replies map[uint16]time.Duration // seq -> RTT
	SendErr error                    // the first error sendto gave, e.g. ENETUNREACH
	ICMPErr string                   // an ICMP error that came back to the sender
}

// probeEcho sends count echo requests from ns to dst on a raw ICMP socket
// and waits up to timeout after the last one for the replies.
func probeEcho(ctx context.Context, ns netns.NsHandle, dst netip.Addr, id uint16, count int, timeout time.Duration) (echoResult, error) {
	res := echoResult{ID: id, Replies: map[uint16]time.Duration{}}
	fd, err := socketIn(ns, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err != nil {
		return res, fmt.Errorf("ICMP socket: %w", err)
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrInet4{Addr: dst.As4()}
	sent := make(map[uint16]time.Time, count)
	for seq := 1; seq <= count; seq++ {
		sent[uint16(seq)] = time.Now()
		if err := unix.Sendto(fd, echoRequest(id, uint16(seq)), 0, sa); err != nil {
			if res.SendErr == nil {
				res.SendErr = err
			}
			continue
		}
		res.Sent++
		if seq < count {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if res.Sent == 0 {
		return res, nil
	}
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 1500)
	for len(res.Replies) < res.Sent && time.Now().Before(deadline) && ctx.Err() == nil {
		wait := min(time.Until(deadline), 100*time.Millisecond)
		tv := unix.NsecToTimeval(max(wait, time.Millisecond).Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue
		}
		typ, rid, seq, quoted := parseICMP(buf[:n])
		switch {
		case typ == 0 && rid == id:
			if t, ok := sent[seq]; ok {
				if _, dup := res.Replies[seq]; !dup {
					res.Replies[seq] = time.Since(t)
				}
			}
		case (typ == 3 || typ == 11) && quoted == id && res.ICMPErr == "":
			res.ICMPErr = fmt.Sprintf("ICMP type %d code %d from %s", typ, buf[21], netip.AddrFrom4([4]byte(buf[12:16])))
		}
	}
	return res, nil
}

func echoRequest(id, seq uint16) []byte {
	b := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq)}
	b = append(b, "nsdump trace probe"...)
	c := checksum(b)
	b[2], b[3] = byte(c>>8), byte(c)
	return b
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// parseICMP reads a raw-socket IPv4 datagram: the ICMP type, the echo id and
// seq, and for an error the id of the echo it quotes.
func parseICMP(b []byte) (typ uint8, id, seq, quotedID uint16) {
	if len(b) < 20 {
		return 255, 0, 0, 0
	}
	ihl := int(b[0]&0x0f) * 4
	if len(b) < ihl+8 {
		return 255, 0, 0, 0
	}
	icmp := b[ihl:]
	typ = icmp[0]
	id, seq = binary.BigEndian.Uint16(icmp[4:]), binary.BigEndian.Uint16(icmp[6:])
	if q := icmp[8:]; len(q) >= 28 && q[9] == unix.IPPROTO_ICMP {
		qihl := int(q[0]&0x0f) * 4
		if len(q) >= qihl+8 {
			quotedID = binary.BigEndian.Uint16(q[qihl+4:])
		}
	}
	return typ, id, seq, quotedID
}

// tcpResult is what one TCP probe saw.
type tcpResult struct {
	Connected bool
	Err       error // connect's error: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH
	Wrote     bool
	LocalPort uint16
	RTT       time.Duration
}

// probeTCP connects from ns to dst:port and writes msg.
func probeTCP(ctx context.Context, ns netns.NsHandle, dst netip.AddrPort, msg string, timeout time.Duration) (tcpResult, error) {
	var res tcpResult
	fd, err := socketIn(ns, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return res, fmt.Errorf("TCP socket: %w", err)
	}
	defer unix.Close(fd)
	start := time.Now()
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())})
	if sa, e := unix.Getsockname(fd); e == nil {
		if in, ok := sa.(*unix.SockaddrInet4); ok {
			res.LocalPort = uint16(in.Port)
		}
	}
	if err != nil && !errors.Is(err, unix.EINPROGRESS) {
		res.Err = err
		return res, nil
	}
	deadline := start.Add(timeout)
	for {
		if ctx.Err() != nil {
			res.Err = ctx.Err()
			return res, nil
		}
		wait := min(time.Until(deadline), 100*time.Millisecond)
		if wait <= 0 {
			res.Err = unix.ETIMEDOUT
			return res, nil
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, int(wait.Milliseconds())+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return res, fmt.Errorf("poll: %w", err)
		}
		if n > 0 {
			break
		}
	}
	if soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
		res.Err = unix.Errno(soerr)
		return res, nil
	}
	res.Connected, res.RTT = true, time.Since(start)
	_, err = unix.Write(fd, []byte(msg))
	res.Wrote = err == nil
	unix.Shutdown(fd, unix.SHUT_WR)
	return res, nil
}

// listener is `nc -l PORT` inside a namespace: it accepts connections and
// records the first line each one sends.
type listener struct {
	ln       net.Listener
	messages chan string
}

// listenIn binds 0.0.0.0:port inside ns.
func listenIn(ns netns.NsHandle, port uint16) (*listener, error) {
	fd := -1
	err := topology.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return err
		}
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(port)}); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.Listen(fd, 16); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	l := &listener{ln: ln, messages: make(chan string, 64)}
	go l.serve()
	return l, nil
}

func (l *listener) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 256)
			n, _ := c.Read(buf)
			select {
			case l.messages <- string(buf[:n]):
			default:
			}
		}()
	}
}

// received reports whether msg arrived within wait.
func (l *listener) received(ctx context.Context, msg string, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case m := <-l.messages:
			if m == msg {
				return true
			}
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (l *listener) Close() { l.ln.Close() }
