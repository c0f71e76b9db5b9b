package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

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
	lk := liveLookup(r.cfg.Targets, r.from.name, r.dst, netip.Addr{}, "")
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

// cutPoint splits a capture point "NS/IFACE".
func cutPoint(point string) (ns, iface string, ok bool) {
	for i := len(point) - 1; i > 0; i-- {
		if point[i] == '/' {
			return point[:i], point[i+1:], true
		}
	}
	return "", "", false
}
