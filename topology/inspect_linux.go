package topology

import (
	"fmt"
	"net"
	"strings"

	"github.com/nsdump/nsdump/containers"
	"github.com/nsdump/nsdump/topology/nsstate"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Namespace is what `nsdump ls` shows of one namespace.
type Namespace struct {
	Name  string `json:"name"`
	Inode uint64 `json:"inode"`
	// Container is the container whose namespace this is, if a target
	// named one or an engine knows it.
	Container  *containers.Container `json:"container,omitempty"`
	Interfaces []Interface           `json:"interfaces"`
	Routes     []Route               `json:"routes"`
}

// Interface is one link with its state, addresses and, for a veth, where
// its peer lives.
type Interface struct {
	Index     int           `json:"index"`
	Name      string        `json:"name"`
	Kind      string        `json:"kind"`
	MAC       string        `json:"mac,omitempty"`
	MTU       int           `json:"mtu"`
	Up        bool          `json:"up"`
	Carrier   bool          `json:"carrier"`
	OperState string        `json:"operstate"`
	Addresses []string      `json:"addresses"`
	Peer      *nsstate.Peer `json:"peer,omitempty"`
	// Master is the bridge (bond, VRF) the interface is a port of.
	Master string `json:"master,omitempty"`
}

// Route is one IPv4 route of the main table; Text is how `ip route` prints it.
type Route struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway,omitempty"`
	Dev     string `json:"dev,omitempty"`
	Proto   string `json:"protocol"`
	Scope   string `json:"scope"`
	Src     string `json:"prefsrc,omitempty"`
	Text    string `json:"text"`
}

// Inspect reads the interfaces, addresses, veth peers and main-table IPv4
// routes of a named namespace.
func (ts *Targets) Inspect(name string) (*Namespace, error) {
	h, err := ts.openHandle(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	ino, err := Inode(h.ns)
	if err != nil {
		return nil, fmt.Errorf("namespace %q: %w", name, err)
	}
	out := &Namespace{Name: name, Inode: ino, Container: ts.container(name)}
	links, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces in %q: %w", name, err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		ifc, err := h.describe(l, names)
		if err != nil {
			return nil, err
		}
		out.Interfaces = append(out.Interfaces, ifc)
	}
	routes, err := h.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes in %q: %w", name, err)
	}
	for _, r := range routes {
		out.Routes = append(out.Routes, describeRoute(r, names))
	}
	return out, nil
}

// Links lists a namespace's interfaces with their state and MAC only: no
// addresses, routes or peers, for callers that just need to bind to them.
func (ts *Targets) Links(name string) ([]Interface, error) {
	h, err := ts.openHandle(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces in %q: %w", name, err)
	}
	out := make([]Interface, len(links))
	for i, l := range links {
		out[i] = linkState(l)
	}
	return out, nil
}

// LinksWithPeers is Links with each veth's peer and each port's master:
// what a capture file says of its capture points.
func (ts *Targets) LinksWithPeers(name string) ([]Interface, error) {
	h, err := ts.openHandle(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces in %q: %w", name, err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	out := make([]Interface, len(links))
	for i, l := range links {
		a := l.Attrs()
		out[i] = linkState(l)
		if _, ok := l.(*netlink.Veth); ok && a.ParentIndex > 0 {
			out[i].Peer = h.peer(a, names)
		}
		out[i].Master = names[a.MasterIndex]
	}
	return out, nil
}

func linkState(l netlink.Link) Interface {
	a := l.Attrs()
	ifc := Interface{
		Index: a.Index, Name: a.Name, Kind: l.Type(), MTU: a.MTU,
		Up:        a.Flags&net.FlagUp != 0,
		Carrier:   a.RawFlags&unix.IFF_LOWER_UP != 0,
		OperState: a.OperState.String(),
		Addresses: []string{},
	}
	if len(a.HardwareAddr) > 0 {
		ifc.MAC = a.HardwareAddr.String()
	}
	return ifc
}

func (h *nsHandle) describe(l netlink.Link, names map[int]string) (Interface, error) {
	a := l.Attrs()
	ifc := linkState(l)
	addrs, err := h.addrList(a.Index)
	if err != nil {
		return ifc, fmt.Errorf("list addresses of %s in %q: %w", a.Name, h.name, err)
	}
	for _, ad := range addrs {
		ifc.Addresses = append(ifc.Addresses, ipNetPrefix(ad.IPNet).String())
	}
	if _, ok := l.(*netlink.Veth); ok && a.ParentIndex > 0 {
		ifc.Peer = h.peer(a, names)
	}
	return ifc, nil
}

// addrList lists the addresses of link index, from one dump of the
// namespace's addresses: a dump per link of a bridge's hundreds of ports
// dumped every address hundreds of times.
func (h *nsHandle) addrList(index int) ([]netlink.Addr, error) {
	if h.addrs == nil {
		all, err := h.nl.AddrList(nil, netlink.FAMILY_ALL)
		if err != nil {
			return nil, err
		}
		h.addrs = map[int][]netlink.Addr{}
		for _, ad := range all {
			h.addrs[ad.LinkIndex] = append(h.addrs[ad.LinkIndex], ad)
		}
	}
	return h.addrs[index], nil
}

// peer finds a veth's other end: IFLA_LINK is its index and
// IFLA_LINK_NETNSID the id, in this namespace's view, of the namespace it is
// in. Namespaces are matched by asking this namespace for their ids
// (peer_linux.go).
func (h *nsHandle) peer(a *netlink.LinkAttrs, names map[int]string) *nsstate.Peer {
	p := &nsstate.Peer{Index: a.ParentIndex}
	if a.NetNsID < 0 {
		p.Namespace, p.Interface = h.name, names[a.ParentIndex]
		return p
	}
	if c, ok := h.peerNS(a.NetNsID); ok {
		h.peerIn(p, c, a.NetNsID)
		return p
	}
	p.Interface = fmt.Sprintf("if%d", a.ParentIndex)
	return p
}

func describeRoute(r netlink.Route, names map[int]string) Route {
	out := Route{Dst: "default", Proto: r.Protocol.String(), Scope: r.Scope.String(), Dev: names[r.LinkIndex]}
	if r.Dst != nil {
		if ones, bits := r.Dst.Mask.Size(); ones == 0 {
			out.Dst = "default"
		} else if ones == bits {
			out.Dst = r.Dst.IP.String()
		} else {
			out.Dst = r.Dst.String()
		}
	}
	if r.Gw != nil {
		out.Gateway = r.Gw.String()
	}
	if r.Src != nil {
		out.Src = r.Src.String()
	}
	f := []string{out.Dst}
	if out.Gateway != "" {
		f = append(f, "via", out.Gateway)
	}
	if out.Dev != "" {
		f = append(f, "dev", out.Dev)
	}
	if r.Protocol != unix.RTPROT_BOOT {
		f = append(f, "proto", out.Proto)
	}
	if r.Scope != netlink.SCOPE_UNIVERSE {
		f = append(f, "scope", out.Scope)
	}
	if out.Src != "" {
		f = append(f, "src", out.Src)
	}
	if r.Priority != 0 {
		f = append(f, "metric", fmt.Sprint(r.Priority))
	}
	if r.Flags&unix.RTNH_F_LINKDOWN != 0 {
		f = append(f, "linkdown")
	}
	out.Text = strings.Join(f, " ")
	return out
}

// Inspect is ts.Inspect of a nil Targets: by name, nothing held.
func Inspect(name string) (*Namespace, error) {
	return (*Targets)(nil).Inspect(name)
}

// Links is ts.Links of a nil Targets: by name, nothing held.
func Links(name string) ([]Interface, error) {
	return (*Targets)(nil).Links(name)
}

// LinksWithPeers is ts.LinksWithPeers of a nil Targets: by name, nothing held.
func LinksWithPeers(name string) ([]Interface, error) {
	return (*Targets)(nil).LinksWithPeers(name)
}
