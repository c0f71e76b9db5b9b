package nsstate

import "net/netip"

// NamespaceState is what a path through a namespace depends on: its links
// (with bridge masters and veth peers), forwarding and rp_filter sysctls,
// bridge forwarding databases and neighbour tables. Trace gathers one per
// namespace on a path and judges from them.
type NamespaceState struct {
	Name        string          `json:"namespace"`
	Inode       uint64          `json:"inode"`
	Container   *Container      `json:"container,omitempty"`
	Links       []LinkState     `json:"links"`
	Forwarding4 bool            `json:"ip_forward"`
	Forwarding6 bool            `json:"ipv6_forwarding"`
	RPFilter    map[string]int  `json:"rp_filter,omitempty"` // interface (or "all") -> 0, 1 strict, 2 loose
	FDB         []FDBEntry      `json:"fdb,omitempty"`
	Neighbors   []NeighborEntry `json:"neighbors,omitempty"`
}

// LinkState is one interface as a path sees it.
type LinkState struct {
	Name    string `json:"name"`
	Index   int    `json:"index"`
	Kind    string `json:"kind"`
	MAC     string `json:"mac,omitempty"`
	MTU     int    `json:"mtu"`
	Up      bool   `json:"up"`
	Carrier bool   `json:"carrier"`
	// NoARP: the interface neither resolves its neighbours nor answers
	// their ARP (IFF_NOARP, `ip link set dev X arp off`).
	NoARP     bool           `json:"noarp,omitempty"`
	Master    string         `json:"master,omitempty"` // the bridge this link is a port of
	Addresses []netip.Prefix `json:"addresses"`
	Peer      *Peer          `json:"peer,omitempty"` // a veth's other end
	PeerInode uint64         `json:"peer_inode,omitempty"`
	// Lower is the device a macvlan sits on (IFLA_LINK), wherever it is.
	Lower *Peer `json:"lower,omitempty"`
	// MacvlanMode is a macvlan's mode as `ip -d link` writes it: private,
	// vepa, bridge, passthru, source.
	MacvlanMode string `json:"macvlan_mode,omitempty"`
	VXLAN       *VXLAN `json:"vxlan,omitempty"`
}

// VXLAN is what a vxlan device sends with and takes: its VNI, the remote
// and local underlay addresses, the UDP port and the underlay device.
type VXLAN struct {
	ID     uint32     `json:"id"`
	Remote netip.Addr `json:"remote,omitzero"`
	Local  netip.Addr `json:"local,omitzero"`
	Port   int        `json:"dstport"`
	Dev    string     `json:"dev,omitempty"`
	// NoLearning: the device learns no remote from what it receives; it
	// sends where its FDB (its remote, unless told more) says.
	NoLearning bool `json:"nolearning,omitempty"`
}

// FDBEntry is one learned or static MAC on a bridge port.
type FDBEntry struct {
	Bridge string `json:"bridge"`
	Port   string `json:"port"`
	MAC    string `json:"mac"`
}

// NeighborEntry is one ARP or NDP entry.
type NeighborEntry struct {
	Dev   string     `json:"dev"`
	Addr  netip.Addr `json:"addr"`
	MAC   string     `json:"mac,omitempty"`
	State NeighState `json:"state"`
}

// Link returns the namespace's interface named name, or nil.
func (st *NamespaceState) Link(name string) *LinkState {
	for i := range st.Links {
		if st.Links[i].Name == name {
			return &st.Links[i]
		}
	}
	return nil
}

// NeighborMAC is the MAC the neighbour table holds for addr on dev, or "".
func (st *NamespaceState) NeighborMAC(dev string, addr netip.Addr) string {
	for _, n := range st.Neighbors {
		if n.Dev == dev && n.Addr == addr && n.MAC != "" && !n.State.Unresolved() {
			return n.MAC
		}
	}
	return ""
}

// Owns reports whether an interface of the namespace has address a.
func (st *NamespaceState) Owns(a netip.Addr) bool {
	for _, l := range st.Links {
		for _, p := range l.Addresses {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

// BlockingRoute is a main-table route that refuses what it matches
// instead of sending it anywhere: blackhole, unreachable or prohibit.
type BlockingRoute struct {
	Type string       `json:"type"`
	Dst  netip.Prefix `json:"dst"`
}

// String is how `ip route` writes it: "blackhole 10.0.2.0/24".
func (r BlockingRoute) String() string { return r.Type + " " + r.Dst.String() }

// Peer is the other end of a veth. Namespace is empty when the peer sits in
// a namespace that has no name under /run/netns.
type Peer struct {
	Namespace string `json:"namespace"`
	Interface string `json:"interface"`
	Index     int    `json:"index"`
}

func (p *Peer) String() string {
	ns := p.Namespace
	if ns == "" {
		ns = "(unnamed)"
	}
	return ns + "/" + p.Interface
}

// Container is the container whose namespace a state is, as its engine
// names it: what JSON shows beside the inode, and what a fix for the
// namespace enters it by (a container name is no /run/netns name).
type Container struct {
	Engine string `json:"engine"` // docker, podman, containerd, cri-o
	Name   string `json:"name"`
	ID     string `json:"id"`
}
