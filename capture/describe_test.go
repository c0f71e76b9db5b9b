package capture

import (
	"testing"
)

func TestPointDescription(t *testing.T) {
	for _, c := range []struct {
		info PointInfo
		want string
	}{
		{PointInfo{Namespace: "vnet0", Inode: 4026532445, Kind: "veth", Peer: "vnet1/veth1"}, "namespace vnet0 (inode 4026532445), veth peer vnet1/veth1"},
		{PointInfo{Namespace: "R", Inode: 7, Kind: "veth", Peer: "(unnamed)/eth0", Master: "br0"}, "namespace R (inode 7), veth peer (unnamed)/eth0, port of bridge br0"},
		{PointInfo{Namespace: "R", Inode: 7, Kind: "bridge"}, "namespace R (inode 7), bridge"},
		{PointInfo{Namespace: "pid:42", Container: "docker:web", Kind: "veth"}, "container docker:web, namespace pid:42, veth"},
		{PointInfo{Namespace: "B", Inode: 9, Drops: true}, "namespace B (inode 9), packets the kernel dropped there, each with its reason"},
	} {
		if got := c.info.Description(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.info, got, c.want)
		}
	}
}
