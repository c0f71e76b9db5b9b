package topology

import (
	"encoding/binary"
	"slices"
	"sync"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// A veth's peer namespace is known to the kernel only by an id in the
// viewer's own numbering (IFLA_LINK_NETNSID); the namespace is found by
// asking the viewer for the id of every namespace on the host. A bridge
// of N ports asked that of every namespace for every port, and a trace
// reading N members asked it N times more: N² questions, seconds at 200.
// Now a handle asks each namespace once (peerIDs), and the namespaces
// lately found at a far end are asked first (peerHints, kept in the
// command's Targets, no global): a crowd's members all peer into one
// bridge's namespace.

// peerCandidate is a namespace a peer may be in: a name under /run/netns,
// or one found otherwise (a container's, held by a process or a mount).
type peerCandidate struct {
	name  string
	found *Found // nil for a name
}

func (c peerCandidate) open(ts *Targets) (netns.NsHandle, error) {
	if c.found != nil {
		return c.found.Open()
	}
	return ts.OpenNamespace(c.name)
}

// display is how the peer namespace is shown, unless held under another
// name (Targets.nameOf).
func (c peerCandidate) display() string {
	if c.found != nil {
		return c.found.Display()
	}
	return c.name
}

// maxPeerHints is how many far ends a Targets remembers.
const maxPeerHints = 8

// peerHints are the far ends lately found through ts, most recent first;
// a nil Targets remembers none.
type peerHints struct {
	mu sync.Mutex
	c  []peerCandidate
}

func (ts *Targets) hinted() []peerCandidate {
	if ts == nil {
		return nil
	}
	ts.hints.mu.Lock()
	defer ts.hints.mu.Unlock()
	return slices.Clone(ts.hints.c)
}

func (ts *Targets) hint(c peerCandidate) {
	if ts == nil {
		return
	}
	ts.hints.mu.Lock()
	defer ts.hints.mu.Unlock()
	hs := slices.DeleteFunc(ts.hints.c, func(o peerCandidate) bool { return o.display() == c.display() })
	ts.hints.c = append([]peerCandidate{c}, hs...)
	if len(ts.hints.c) > maxPeerHints {
		ts.hints.c = ts.hints.c[:maxPeerHints]
	}
}

// peerNS finds the namespace h knows as nsid: a hint, else a named
// namespace, else any other on the host.
func (h *nsHandle) peerNS(nsid int) (peerCandidate, bool) {
	if c, ok := h.peerIDs[nsid]; ok {
		h.hint(c)
		return c, true
	}
	if h.asked == 0 {
		for _, c := range h.ts.hinted() {
			if h.idOf(c) == nsid {
				h.hint(c)
				return c, true
			}
		}
	}
	for _, more := range []func() []peerCandidate{namedCandidates, unnamedCandidates}[h.asked:] {
		h.asked++
		if h.peerIDs == nil {
			h.peerIDs = map[int]peerCandidate{}
		}
		for _, c := range more() {
			if id := h.idOf(c); id >= 0 {
				if _, dup := h.peerIDs[id]; !dup {
					h.peerIDs[id] = c
				}
			}
		}
		if c, ok := h.peerIDs[nsid]; ok {
			h.hint(c)
			return c, true
		}
	}
	return peerCandidate{}, false
}

// hint remembers c, and h's own namespace before it: a bridge's namespace
// stays first while its ports' peers pass through.
func (h *nsHandle) hint(c peerCandidate) {
	h.ts.hint(c)
	h.ts.hint(peerCandidate{name: h.name})
}

// idOf is the id h knows c by, or -1.
func (h *nsHandle) idOf(c peerCandidate) int {
	ns, err := c.open(h.ts)
	if err != nil {
		return -1
	}
	defer ns.Close()
	id, err := h.nl.GetNetNsIdByFd(int(ns))
	if err != nil {
		return -1
	}
	return id
}

func namedCandidates() []peerCandidate {
	names, _ := ListNamespaces()
	out := make([]peerCandidate, 0, len(names))
	for _, n := range names {
		out = append(out, peerCandidate{name: n})
	}
	return out
}

// unnamedCandidates are the namespaces on the host without a name.
func unnamedCandidates() []peerCandidate {
	all, _ := AllNamespaces()
	var out []peerCandidate
	for _, f := range all {
		if f.Name == "" {
			out = append(out, peerCandidate{found: f})
		}
	}
	return out
}

// peerIn fills in p's namespace and interface, the namespace being c,
// known to h as nsid.
func (h *nsHandle) peerIn(p *nsstate.Peer, c peerCandidate, nsid int) {
	p.Namespace = c.display()
	ns, err := c.open(h.ts)
	if err != nil {
		return
	}
	defer ns.Close()
	var st unix.Stat_t
	if unix.Fstat(int(ns), &st) == nil { // held under another name (a container's)?
		p.Namespace = h.ts.nameOf(st.Ino, st.Dev, p.Namespace)
	}
	if name, ok := h.linkNameAt(nsid, p.Index); ok {
		p.Interface = name
		return
	}
	p.Interface = linkNameIn(ns, p.Index)
}

// linkNameAt asks h's namespace for the name of link index of the
// namespace it knows as nsid (RTM_GETLINK with IFLA_TARGET_NETNSID, Linux
// 4.20): no switch into that namespace, which for each of a bridge's
// hundreds of ports was most of reading the bridge.
func (h *nsHandle) linkNameAt(nsid, index int) (string, bool) {
	if !h.rawAsked {
		h.rawAsked, h.raw = true, -1
		if fd, err := (Held{Handle: h.ns, Name: h.name}).routeSocket(); err == nil {
			h.raw = fd
		}
	}
	if h.raw < 0 {
		return "", false
	}
	body := make([]byte, unix.SizeofIfInfomsg, unix.SizeofIfInfomsg+8)
	binary.NativeEndian.PutUint32(body[4:], uint32(index))
	attr := make([]byte, 8)
	binary.NativeEndian.PutUint16(attr[0:], 8)
	binary.NativeEndian.PutUint16(attr[2:], unix.IFLA_TARGET_NETNSID)
	binary.NativeEndian.PutUint32(attr[4:], uint32(int32(nsid)))
	msgs, err := exchange(h.raw, unix.RTM_GETLINK, 0, append(body, attr...))
	if err != nil || len(msgs) != 1 || len(msgs[0]) < unix.SizeofIfInfomsg {
		return "", false
	}
	name := attrString(attrs(msgs[0][unix.SizeofIfInfomsg:]), unix.IFLA_IFNAME)
	return name, name != ""
}
