package capture

import (
	"fmt"
	"strings"
)

// PointInfo is what a capture file says of a capture point beyond its
// NS/IFACE name, in its interface block's if_description (Wireshark's
// frame.interface_description): "namespace vnet0 (inode 4026532445),
// veth peer vnet1/veth1, port of bridge br0".
type PointInfo struct {
	Namespace string
	Inode     uint64 // 0: unknown
	// Container names the container whose network namespace this is
	// ("docker:web"), for targets that named one; whoever resolves
	// container targets sets it. Empty: none.
	Container string
	Kind      string // the link kind: veth, bridge, vxlan, ...
	Peer      string // a veth's other end, NS/IFACE
	Master    string // the bridge (bond, VRF) the interface is a port of
	Drops     bool   // the kernel's drops in the namespace (NS/drops)
}

// Description is the if_description text.
func (i PointInfo) Description() string {
	var parts []string
	if i.Container != "" {
		parts = append(parts, "container "+i.Container)
	}
	ns := "namespace " + i.Namespace
	if i.Inode != 0 {
		ns += fmt.Sprintf(" (inode %d)", i.Inode)
	}
	parts = append(parts, ns)
	switch {
	case i.Drops:
		parts = append(parts, "packets the kernel dropped there, each with its reason")
	case i.Kind == "veth" && i.Peer != "":
		parts = append(parts, "veth peer "+i.Peer)
	case i.Kind != "":
		parts = append(parts, i.Kind)
	}
	if i.Master != "" {
		parts = append(parts, "port of bridge "+i.Master)
	}
	return strings.Join(parts, ", ")
}
