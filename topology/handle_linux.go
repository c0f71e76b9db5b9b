package topology

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsHandle is an open named namespace with a route netlink handle bound to it.
type nsHandle struct {
	name string
	ns   netns.NsHandle
	nl   *netlink.Handle
	ts   *Targets // that names the namespaces it meets
	// peerIDs are the ids this namespace knows others by, learnt from
	// the first asked candidates (peer_linux.go): named ones, then all
	asked   int
	peerIDs map[int]peerCandidate
	addrs   map[int][]netlink.Addr // by link index, once asked (addrList)
	// raw is a raw route socket, once asked for (linkNameAt); -1 when
	// none could be made
	raw      int
	rawAsked bool
}

// openHandle opens name through ts (nil: by name) with a route netlink
// handle bound to it.
func (ts *Targets) openHandle(name string) (*nsHandle, error) {
	ns, err := ts.OpenNamespace(name)
	if err != nil {
		return nil, err
	}
	h, err := netlinkIn(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in namespace %q: %w", name, err)
	}
	return &nsHandle{name: name, ns: ns, nl: h, ts: ts}, nil
}

func (h *nsHandle) Close() {
	if h == nil {
		return
	}
	h.nl.Close()
	h.ns.Close()
	if h.rawAsked && h.raw >= 0 {
		unix.Close(h.raw)
	}
}

// linkByName returns nil, nil when the interface does not exist.
func (h *nsHandle) linkByName(name string) (netlink.Link, error) {
	l, err := h.nl.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, nil
		}
		return nil, fmt.Errorf("look up %s in namespace %q: %w", name, h.name, err)
	}
	return l, nil
}
