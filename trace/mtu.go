package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/nsdump/nsdump/cmdline"
	"golang.org/x/sys/unix"
)

// KindMTU is the probe of echo requests as large as the sender's
// interface allows, with DF: what a bulk transfer sends.
const KindMTU = "mtu"

// mtuProbe is one direction's large echo probe and what it was sized by.
type mtuProbe struct {
	dev  string // the sender's output interface
	size int    // its MTU: the probe's packets' size, IP header included
	echo echoResult
	err  error
	// cached is the path MTU the sender's route already holds, read when
	// the socket refused to send (EMSGSIZE): what an earlier frag-needed
	// taught it.
	cached int
}

// dontFragment makes the raw ICMP socket fd send without fragmenting
// (DF in IPv4; IPv6 never fragments on the way) and returns the padding
// that makes an echo request size bytes long, IP header included.
func dontFragment(fd int, dst netip.Addr, size int) (int, error) {
	hdr := 20
	var err error
	if dst.Is4() {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
	} else {
		hdr = 40
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO)
	}
	if err != nil {
		return 0, fmt.Errorf("set DF on the ICMP socket: %w", err)
	}
	// IPv6 raw sockets report a packet the interface dropped (ENOBUFS);
	// IPv4 ones do not, unless asked to.
	return max(0, size-hdr-8-len("nsdump trace probe")), nil
}

// probeMTU sends the large echo requests out of the interface the route
// to the destination takes, sized by its MTU.
func (r *run) probeMTU(ctx context.Context) {
	lk := liveLookup(r.from.name, r.dst, netip.Addr{}, "")
	if !lk.OK {
		return // no route: the small echo says so
	}
	for _, ifc := range r.from.info.Interfaces {
		if ifc.Name == lk.Dev {
			r.mtu.dev, r.mtu.size = ifc.Name, ifc.MTU
		}
	}
	if r.mtu.size == 0 {
		return
	}
	r.mtu.echo, r.mtu.err = probeEchoSized(ctx, r.from.ns, r.src, r.dst, randomID(), r.cfg.Count, r.cfg.Timeout, r.mtu.size)
	if errors.Is(r.mtu.echo.SendErr, unix.EMSGSIZE) {
		r.mtu.cached = routeMTU(r.from.ns, r.src, r.dst)
	}
}

// mtuFacts is what the mtu judgement reads.
type mtuFacts struct {
	ns, to    string
	dev       string // the sender's interface, and its MTU
	mtu       int
	peerNS    string // its veth peer, and the peer's MTU, if known
	peer      string
	peerMTU   int
	sent, got int    // large echo requests tried and answered
	handed    int    // how many the sender's socket took
	small     bool   // the small echo of the same direction passed
	pathMTU   int    // a frag-needed / packet-too-big that reached the sender
	cached    int    // the path MTU the sender's route held from an earlier one
	errFrom   string // who sent it
	tooBig    string // one seen by the capture that did not reach the sender: who and where
	lastSeen  string // the namespace where the large request was last seen
	sendErr   string // what the sender's socket said when it could not send
}

// judgeMTU is the mtu probe's verdict. It is made only when the small echo
// of the same direction passed: otherwise that echo's verdict covers it.
func judgeMTU(m mtuFacts) (p Probe, judged bool) {
	if !m.small || m.sent == 0 {
		return p, false
	}
	p.Kind = KindMTU
	size := fmt.Sprintf("%d-byte echo requests with DF from %s on %s", m.mtu, m.ns, m.dev)
	said := ""
	if m.sendErr != "" {
		// ENOBUFS: the interface dropped the packet (a veth whose peer's MTU is smaller).
		said = fmt.Sprintf("; %s's socket said: %s", m.ns, m.sendErr)
	}
	switch {
	case m.got == m.sent:
		p.OK, p.Cause, p.Namespace = true, CauseOK, m.ns
		p.Detail = fmt.Sprintf("%d/%d replies to %s", m.got, m.sent, size)
	case m.pathMTU > 0:
		// Path-MTU discovery working: the sender learnt the size to use.
		p.OK, p.Cause, p.Namespace = true, CauseOK, m.ns
		p.Detail = fmt.Sprintf("path MTU %d: %s answered the %s with frag-needed / packet-too-big, which reached %s", m.pathMTU, m.errFrom, size, m.ns)
	case m.handed == 0 && m.cached > 0 && m.cached < m.mtu:
		// Path-MTU discovery worked before: the route remembers the size.
		p.OK, p.Cause, p.Namespace = true, CauseOK, m.ns
		p.Detail = fmt.Sprintf("path MTU %d: %s's route to %s holds it from an earlier frag-needed / packet-too-big, so its socket refuses the %s (%s)", m.cached, m.ns, m.to, size, m.sendErr)
	case m.handed == 0 && (m.peerMTU == 0 || m.peerMTU == m.mtu):
		p.Cause, p.Namespace = CauseMTU, m.ns
		p.Detail = fmt.Sprintf("%s refuses to send %s: %s", m.ns, size, m.sendErr)
	case m.peerMTU != 0 && m.peerMTU != m.mtu:
		// Lowering the larger end never breaks what passes today.
		low, highNS, highIf := m.peerMTU, m.ns, m.dev
		if m.mtu < m.peerMTU {
			low, highNS, highIf = m.mtu, m.peerNS, m.peer
		}
		p.Cause, p.Namespace = CauseMTU, highNS
		p.Detail = fmt.Sprintf("the two ends of a veth pair disagree on the MTU: %s/%s has %d, %s/%s has %d; %d/%d replies to %s while small ones pass",
			m.ns, m.dev, m.mtu, m.peerNS, m.peer, m.peerMTU, m.got, m.sent, size) + said
		p.Fix = cmdline.IP(highNS, "link", "set", highIf, "mtu", strconv.Itoa(low)).String()
	default:
		p.Cause, p.Namespace = CauseMTU, m.lastSeen
		p.Detail = fmt.Sprintf("%d/%d replies to %s while small ones pass, and no frag-needed / packet-too-big reached %s (a path-MTU black hole)", m.got, m.sent, size, m.ns)
		if m.tooBig != "" {
			p.Detail += "; " + m.tooBig + ", which never reached " + m.ns
		}
	}
	return p, true
}

// cutPoint splits a capture point "NS/IFACE".
func cutPoint(point string) (ns, iface string, ok bool) {
	for i := len(point) - 1; i > 0; i-- {
		if point[i] == '/' {
			return point[:i], point[i+1:], true
		}
	}
	return "", "", false
}
