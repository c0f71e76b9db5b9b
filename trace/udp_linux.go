package trace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// udpResult is what one datagram probe saw from the sender's socket.
type udpResult struct {
	LocalPort uint16
	Sent      int
	Replies   int           // datagrams that came back with a payload sent
	RTT       time.Duration // of the first reply
	SendErr   error
	RecvErr   error // ECONNREFUSED: an ICMP port unreachable came back
	Answers   [][]byte
}

// probeUDP sends count datagrams of payloads from ns (from src when it is
// valid) to dst on a connected socket, and reads what comes back until
// every one is answered, the socket reports an error (a connected UDP
// socket is told of an ICMP port unreachable as ECONNREFUSED), timeout
// passes after the last one, or ctx ends. match says whether a datagram
// read answers one sent.
func probeUDP(ctx context.Context, ns netns.NsHandle, src netip.Addr, dst netip.AddrPort, payloads [][]byte, timeout time.Duration, match func([]byte) bool) (udpResult, error) {
	var res udpResult
	fd, err := socketIn(ns, domain(dst.Addr()), unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return res, fmt.Errorf("UDP socket: %w", err)
	}
	defer unix.Close(fd)
	if src.IsValid() {
		if err := unix.Bind(fd, sockaddr(src, 0)); err != nil {
			res.SendErr = fmt.Errorf("bind to %s: %w", src, err) // a fact, as for the other probes
			return res, nil
		}
	}
	sa := sockaddr(dst.Addr(), dst.Port())
	if z := dst.Addr().Zone(); z != "" {
		idx, err := zoneIndex(ns, z)
		if err != nil {
			res.SendErr = fmt.Errorf("the zone of %s: %w", dst.Addr(), err)
			return res, nil
		}
		sa.(*unix.SockaddrInet6).ZoneId = uint32(idx)
	}
	if err := unix.Connect(fd, sa); err != nil {
		res.SendErr = err // ENETUNREACH: no route
		return res, nil
	}
	res.LocalPort = localPort(fd)
	start := time.Now()
	for i, b := range payloads {
		_, err := unix.Write(fd, b)
		if errors.Is(err, unix.ECONNREFUSED) {
			// The port unreachable an earlier datagram met, reported to
			// this write, which sent nothing: once more.
			res.RecvErr = err
			_, err = unix.Write(fd, b)
		}
		if err != nil {
			if res.SendErr == nil && !errors.Is(err, unix.ECONNREFUSED) {
				res.SendErr = err
			}
			continue
		}
		res.Sent++
		if i < len(payloads)-1 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if res.Sent > 0 {
		res.awaitReplies(ctx, fd, start, time.Now().Add(timeout), match)
	}
	return res, nil
}

// zoneIndex is the interface index of a link-local address's zone in
// ns: its number, or the index of the interface ns has by that name.
func zoneIndex(ns netns.NsHandle, zone string) (int, error) {
	if n, err := strconv.Atoi(zone); err == nil {
		return n, nil
	}
	idx := 0
	err := topology.Do(ns, func() error {
		ifi, err := net.InterfaceByName(zone)
		if err != nil {
			return err
		}
		idx = ifi.Index
		return nil
	})
	return idx, err
}

// awaitReplies reads the socket until every datagram sent is answered,
// it reports an error, the deadline passes or ctx ends.
func (res *udpResult) awaitReplies(ctx context.Context, fd int, start, deadline time.Time, match func([]byte) bool) {
	buf := make([]byte, 1500)
	for res.Replies < res.Sent && res.RecvErr == nil && ctx.Err() == nil {
		wait := time.Until(deadline)
		flags := 0
		if wait <= 0 {
			flags = unix.MSG_DONTWAIT // one last look: a reply at the deadline counts
		} else {
			tv := unix.NsecToTimeval(min(max(wait, time.Millisecond), 100*time.Millisecond).Nanoseconds())
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		}
		n, _, err := unix.Recvfrom(fd, buf, flags)
		switch {
		case err == nil && match(buf[:n]):
			if res.Replies == 0 {
				res.RTT = time.Since(start)
			}
			res.Replies++
			res.Answers = append(res.Answers, append([]byte(nil), buf[:n]...))
		case err == nil:
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			if wait <= 0 {
				return
			}
		default:
			res.RecvErr = err
		}
	}
}

// localPort is the port a socket is bound to.
func localPort(fd int) uint16 {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0
	}
	switch in := sa.(type) {
	case *unix.SockaddrInet4:
		return uint16(in.Port)
	case *unix.SockaddrInet6:
		return uint16(in.Port)
	}
	return 0
}

// responder is the echo service trace runs on --udp PORT in the
// destination, as its TCP listener: every datagram goes back to its
// sender as it came.
type responder struct {
	f *os.File
}

// respondIn binds the wildcard address of a family (4 or 6; an IPv6
// socket takes IPv6 only) on UDP port inside ns and echoes what arrives.
func respondIn(ns netns.NsHandle, family int, port uint16) (*responder, error) {
	any := netip.IPv4Unspecified()
	if family == 6 {
		any = netip.IPv6Unspecified()
	}
	fd := -1
	err := topology.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(domain(any), unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
		if err != nil {
			return err
		}
		if family == 6 {
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		}
		if err := unix.Bind(fd, sockaddr(any, port)); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r := &responder{f: os.NewFile(uintptr(fd), "udp responder")}
	go r.serve()
	return r, nil
}

// serve echoes datagrams until the socket is closed (the runtime's poller
// wakes a blocked read then).
func (r *responder) serve() {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 1500)
	for {
		var n int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return
		}
		if rerr != nil || from == nil {
			continue
		}
		rc.Write(func(fd uintptr) bool {
			unix.Sendto(int(fd), buf[:n], unix.MSG_DONTWAIT, from)
			return true
		})
	}
}

func (r *responder) Close() { r.f.Close() }

// respondOrFind runs the responder on port in s for family v, unless a
// socket is bound there already: then it says who, and the trace probes
// that as it is.
func respondOrFind(s *side, v int, port uint16) (*responder, *facts.Listener, error) {
	r, err := respondIn(s.ns, v, port)
	if err == nil {
		return r, nil, nil
	}
	if !errors.Is(err, unix.EADDRINUSE) {
		return nil, nil, fmt.Errorf("listen on UDP port %d in %s: %w (use --no-listen to probe what listens there)", port, s.name, err)
	}
	who, ferr := findSocket(s.ts, s.name, v, port, "udp", udpBound)
	if ferr != nil {
		return nil, nil, fmt.Errorf("listen on UDP port %d in %s: %w, and no bound socket found: %v", port, s.name, err, ferr)
	}
	return nil, who, nil
}

// udpProbe sends cfg.Count datagrams to the port, each with its own
// payload, and counts those that come back as sent.
func (r *run) udpProbe(ctx context.Context) {
	tag := fmt.Sprintf("nsdump trace %s->%s udp %08x ", r.from.name, r.to.name, randomID())
	var payloads [][]byte
	for i := range r.cfg.Count {
		payloads = append(payloads, fmt.Appendf(nil, "%s%d\n", tag, i+1))
	}
	match := func(b []byte) bool { return len(b) > len(tag) && string(b[:len(tag)]) == tag }
	if r.responder == nil {
		// What listens there is not trace's echo: any datagram back answers.
		match = func([]byte) bool { return true }
	}
	dst := netip.AddrPortFrom(r.dst, r.cfg.UDPPort)
	r.udp, r.udpErr = probeUDP(ctx, r.from.ns, r.src, dst, payloads, r.cfg.Timeout, match)
}

// udpOK: no udp probe, or every datagram came back (from what listened
// before the trace, one answer is enough: it may answer as it likes).
func (r *run) udpOK() bool {
	if r.cfg.UDPPort == 0 {
		return true
	}
	if r.responder == nil {
		return r.udp.Replies > 0
	}
	return r.udp.Sent == r.cfg.Count && r.udp.Replies == r.cfg.Count
}

// kinds are the probes of r, in the order they are shown.
func (r *run) kinds() []facts.ProbeKind {
	out := []facts.ProbeKind{r.echoKind(), facts.KindTCP}
	if r.cfg.UDPPort != 0 {
		out = append(out, facts.KindUDP)
	}
	return append(out, facts.KindMTU)
}

// udpFacts fills in what the udp probe's socket said.
func (r *run) udpFacts(src netip.Addr, pr *Probe, pf *facts.ProbeFacts) {
	pf.Request = facts.Packet{Family: r.fam, Proto: "udp", Src: src, Dst: r.dst, SPort: r.udp.LocalPort, DPort: r.cfg.UDPPort}
	pf.OK = r.udpOK()
	pf.Socket = facts.SocketFacts{Count: r.cfg.Count, Sent: r.udp.Sent, Received: r.udp.Replies,
		SendErr: socketError(r.udp.SendErr), RecvErr: socketError(r.udp.RecvErr), Listener: r.udpExisting}
	pr.Sent, pr.Received, pr.Listener = r.udp.Sent, r.udp.Replies, r.udpExisting
	if pf.OK {
		pr.RTTms = ptr(float64(r.udp.RTT.Microseconds()) / 1000)
	}
}

// udpRoles says whether exchange ex is the udp probe's (its datagrams, or
// an ICMP error about one), and which sightings are its request and
// which its answer.
func (r *run) udpRoles(ex *decode.Exchange, src netip.Addr) (req, ans func(decode.Sighting) bool, ok bool) {
	c := netip.AddrPortFrom(src, r.udp.LocalPort)
	s := netip.AddrPortFrom(r.dst, r.cfg.UDPPort)
	a, b := netip.AddrPortFrom(ex.SrcAddr, ex.SrcPort), netip.AddrPortFrom(ex.DstAddr, ex.DstPort)
	if r.udp.LocalPort == 0 || !(a == c && b == s || a == s && b == c) {
		return nil, nil, false
	}
	switch ex.Kind {
	case decode.KindUDPFlow, decode.KindDNS:
		return func(s decode.Sighting) bool { return s.What == "request" || s.What == "query" },
			func(s decode.Sighting) bool { return s.What == "reply" || s.What == "response" }, true
	case decode.KindICMPError:
		none := func(decode.Sighting) bool { return false }
		return none, none, true
	}
	return nil, nil, false
}
