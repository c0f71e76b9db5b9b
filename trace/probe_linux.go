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
	PathMTU int                      // the MTU a frag-needed or packet-too-big that came back gave
}

// sockaddr is the socket address of a, either family.
func sockaddr(a netip.Addr, port uint16) unix.Sockaddr {
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: int(port)}
	}
	return &unix.SockaddrInet6{Addr: a.As16(), Port: int(port)}
}

// domain is the socket domain of a's family.
func domain(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// probeEcho sends count echo requests from ns to dst on a raw ICMP (or
// ICMPv6) socket, from src when it is valid, and waits up to timeout after
// the last one for the replies.
func probeEcho(ctx context.Context, ns netns.NsHandle, src, dst netip.Addr, id uint16, count int, timeout time.Duration) (echoResult, error) {
	return probeEchoSized(ctx, ns, src, dst, id, count, timeout, 0)
}

// probeEchoSized is probeEcho with packets of size bytes (IP header
// included) that must not be fragmented (DF), or small ones when size is 0.
func probeEchoSized(ctx context.Context, ns netns.NsHandle, src, dst netip.Addr, id uint16, count int, timeout time.Duration, size int) (echoResult, error) {
	res := echoResult{ID: id, Replies: map[uint16]time.Duration{}}
	fd, pad, err := echoSocket(ns, src, dst, size)
	var be *bindError
	if errors.As(err, &be) {
		// The address is not usable (tentative, dadfailed, gone): a fact
		// about the namespace for the judgement, not a usage error.
		res.SendErr = be.err
		return res, nil
	}
	if err != nil {
		return res, err
	}
	defer unix.Close(fd)
	request := byte(8)
	if dst.Is6() {
		request = 128
	}
	sent := make(map[uint16]time.Time, count)
	sa := sockaddr(dst, 0)
	for seq := 1; seq <= count; seq++ {
		sent[uint16(seq)] = time.Now()
		if err := unix.Sendto(fd, echoRequest(request, id, uint16(seq), pad), 0, sa); err != nil {
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
	if res.Sent > 0 {
		awaitReplies(ctx, fd, dst, sent, &res, time.Now().Add(timeout), max(1500, size+64))
	}
	return res, nil
}

// echoSocket opens the raw ICMP socket of an echo probe inside ns, bound
// to src when valid; for a sized probe (size > 0) it sends without
// fragmenting and pad is the padding that makes a request size bytes.
func echoSocket(ns netns.NsHandle, src, dst netip.Addr, size int) (fd, pad int, err error) {
	proto := unix.IPPROTO_ICMP
	if dst.Is6() {
		// The kernel computes an ICMPv6 raw socket's checksum (RFC 3542).
		proto = unix.IPPROTO_ICMPV6
	}
	fd, err = socketIn(ns, domain(dst), unix.SOCK_RAW, proto)
	if err != nil {
		return -1, 0, fmt.Errorf("ICMP socket: %w", err)
	}
	if src.IsValid() {
		if err := unix.Bind(fd, sockaddr(src, 0)); err != nil {
			unix.Close(fd)
			return -1, 0, &bindError{fmt.Errorf("bind to %s: %w", src, err)}
		}
	}
	if size > 0 {
		if pad, err = dontFragment(fd, dst, size); err != nil {
			unix.Close(fd)
			return -1, 0, err
		}
	}
	return fd, pad, nil
}

// awaitReplies reads the echo replies (and an ICMP error about the
// requests) into res until every request sent is answered, the deadline
// passes or ctx ends.
func awaitReplies(ctx context.Context, fd int, dst netip.Addr, sent map[uint16]time.Time, res *echoResult, deadline time.Time, bufSize int) {
	buf := make([]byte, bufSize)
	take := func(n int, from unix.Sockaddr) {
		m := parseICMP(buf[:n])
		if dst.Is6() {
			m = parseICMPv6(buf[:n], from)
		}
		switch {
		case m.reply && m.id == res.ID:
			if t, ok := sent[m.seq]; ok {
				if _, dup := res.Replies[m.seq]; !dup {
					res.Replies[m.seq] = time.Since(t)
				}
			}
		case m.err && m.quotedID == res.ID && res.ICMPErr == "":
			res.ICMPErr = fmt.Sprintf("%s type %d code %d from %s", m.proto, m.typ, m.code, m.from)
			res.PathMTU = m.mtu
		}
	}
	for len(res.Replies) < res.Sent && time.Now().Before(deadline) && ctx.Err() == nil {
		wait := min(time.Until(deadline), 100*time.Millisecond)
		tv := unix.NsecToTimeval(max(wait, time.Millisecond).Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		if n, from, err := unix.Recvfrom(fd, buf, 0); err == nil {
			take(n, from)
		}
	}
	// What came in while the last wait ran out still counts: a reply that
	// arrived at the deadline is a reply, not a loss.
	for len(res.Replies) < res.Sent {
		n, from, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			break
		}
		take(n, from)
	}
}

func echoRequest(typ byte, id, seq uint16, pad int) []byte {
	b := []byte{typ, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq)}
	b = append(b, "nsdump trace probe"...)
	b = append(b, make([]byte, pad)...)
	if typ == 8 {
		c := checksum(b)
		b[2], b[3] = byte(c>>8), byte(c)
	}
	return b
}

// icmpMsg is what the echo probe reads of one ICMP or ICMPv6 message.
type icmpMsg struct {
	proto      string // ICMP or ICMPv6
	typ, code  uint8
	reply, err bool // an echo reply; an error (unreachable, time exceeded, too big)
	id, seq    uint16
	quotedID   uint16 // the echo id an error quotes
	mtu        int    // the next-hop MTU of a frag-needed or packet-too-big
	from       netip.Addr
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
func parseICMP(b []byte) icmpMsg {
	m := icmpMsg{proto: "ICMP", typ: 255}
	if len(b) < 20 {
		return m
	}
	ihl := int(b[0]&0x0f) * 4
	if len(b) < ihl+8 {
		return m
	}
	m.from = netip.AddrFrom4([4]byte(b[12:16]))
	icmp := b[ihl:]
	m.typ, m.code = icmp[0], icmp[1]
	m.reply, m.err = m.typ == 0, m.typ == 3 || m.typ == 11
	m.id, m.seq = binary.BigEndian.Uint16(icmp[4:]), binary.BigEndian.Uint16(icmp[6:])
	if m.typ == 3 && m.code == 4 {
		m.mtu = int(m.seq) // frag-needed: the next-hop MTU where the seq would be
	}
	if q := icmp[8:]; len(q) >= 28 && q[9] == unix.IPPROTO_ICMP {
		qihl := int(q[0]&0x0f) * 4
		if len(q) >= qihl+8 {
			m.quotedID = binary.BigEndian.Uint16(q[qihl+4:])
		}
	}
	return m
}

// parseICMPv6 reads a raw ICMPv6 socket's message (no IPv6 header): the
// type, the echo id and seq, and for an error (unreachable, packet too
// big, time exceeded) the id of the echo it quotes.
func parseICMPv6(b []byte, from unix.Sockaddr) icmpMsg {
	m := icmpMsg{proto: "ICMPv6", typ: 255}
	if sa, ok := from.(*unix.SockaddrInet6); ok {
		m.from = netip.AddrFrom16(sa.Addr)
	}
	if len(b) < 8 {
		return m
	}
	m.typ, m.code = b[0], b[1]
	m.reply, m.err = m.typ == 129, m.typ >= 1 && m.typ <= 3
	m.id, m.seq = binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:])
	if m.typ == 2 {
		m.mtu = int(binary.BigEndian.Uint32(b[4:])) // packet too big
	}
	if q := b[8:]; len(q) >= 48 && q[6] == unix.IPPROTO_ICMPV6 {
		m.quotedID = binary.BigEndian.Uint16(q[44:])
	}
	return m
}

// tcpResult is what one TCP probe saw.
type tcpResult struct {
	Connected bool
	Err       error // connect's error: ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH
	Wrote     bool
	LocalPort uint16
	RTT       time.Duration
}

// probeTCP connects from ns (from src when it is valid) to dst:port and
// writes msg. With awaitClose (the listener is the trace's own, which
// closes after the message) it waits, within timeout, for the other end's
// FIN: the teardown is then on the wire before the capture stops.
func probeTCP(ctx context.Context, ns netns.NsHandle, src netip.Addr, dst netip.AddrPort, msg string, timeout time.Duration, awaitClose bool) (tcpResult, error) {
	var res tcpResult
	fd, err := socketIn(ns, domain(dst.Addr()), unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return res, fmt.Errorf("TCP socket: %w", err)
	}
	defer unix.Close(fd)
	if src.IsValid() {
		if err := unix.Bind(fd, sockaddr(src, 0)); err != nil {
			res.Err = fmt.Errorf("bind to %s: %w", src, err) // a fact, as for the ICMP socket
			return res, nil
		}
	}
	start := time.Now()
	err = unix.Connect(fd, sockaddr(dst.Addr(), dst.Port()))
	if sa, e := unix.Getsockname(fd); e == nil {
		switch in := sa.(type) {
		case *unix.SockaddrInet4:
			res.LocalPort = uint16(in.Port)
		case *unix.SockaddrInet6:
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
		ms := int(wait.Milliseconds()) + 1
		if wait <= 0 {
			ms = 0 // one last look: a handshake done at the deadline counts
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, ms)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return res, fmt.Errorf("poll: %w", err)
		}
		if n > 0 {
			break
		}
		if wait <= 0 {
			res.Err = unix.ETIMEDOUT
			return res, nil
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
	if awaitClose && res.Wrote {
		awaitEOF(ctx, fd, deadline)
	}
	return res, nil
}

// awaitEOF reads the non-blocking socket fd until the other end closes
// it, an error, ctx ends or the deadline passes.
func awaitEOF(ctx context.Context, fd int, deadline time.Time) {
	buf := make([]byte, 256)
	for ctx.Err() == nil {
		n, err := unix.Read(fd, buf)
		switch {
		case err == nil && n == 0:
			return // the FIN
		case err == nil:
			continue
		case !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR):
			return
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(min(wait, 100*time.Millisecond).Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// listener is `nc -l PORT` inside a namespace: it accepts connections and
// records the first line each one sends.
type listener struct {
	ln       net.Listener
	messages chan string
}

// listenIn binds the wildcard address of a family (4 or 6; an IPv6
// listener takes IPv6 only) on port inside ns.
func listenIn(ns netns.NsHandle, family int, port uint16) (*listener, error) {
	fd := -1
	any := netip.IPv4Unspecified()
	if family == 6 {
		any = netip.IPv6Unspecified()
	}
	err := topology.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(domain(any), unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return err
		}
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		if family == 6 {
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		}
		if err := unix.Bind(fd, sockaddr(any, port)); err != nil {
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
			// A message that came with the deadline still counts.
			for {
				select {
				case m := <-l.messages:
					if m == msg {
						return true
					}
				default:
					return false
				}
			}
		case <-ctx.Done():
			return false
		}
	}
}

func (l *listener) Close() { l.ln.Close() }

// routeMTU is the MTU of ns's route from src to dst, path MTU learnt from
// frag-needed / packet-too-big included (what `ip route get` shows as
// "cache ... mtu N"): a UDP socket connected there asks the kernel, and
// connecting sends nothing. 0 when it cannot tell.
func routeMTU(ns netns.NsHandle, src, dst netip.Addr) int {
	fd, err := socketIn(ns, domain(dst), unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	if src.IsValid() && unix.Bind(fd, sockaddr(src, 0)) != nil {
		return 0
	}
	if unix.Connect(fd, sockaddr(dst, 9)) != nil {
		return 0
	}
	level, opt := unix.IPPROTO_IP, unix.IP_MTU
	if dst.Is6() {
		level, opt = unix.IPPROTO_IPV6, unix.IPV6_MTU
	}
	mtu, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return 0
	}
	return mtu
}

// bindError is a probe socket's bind refused by the kernel.
type bindError struct{ err error }

func (e *bindError) Error() string { return e.err.Error() }
func (e *bindError) Unwrap() error { return e.err }
