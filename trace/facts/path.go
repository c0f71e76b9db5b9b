package facts

import (
	"encoding/json"
	"net/netip"

	"github.com/nsdump/nsdump/topology/nsstate"
)

// MaxHops is how many namespaces a path may cross.
const MaxHops = 8

// Role is what a namespace does for a packet on a path.
type Role string

// Roles, as DESIGN.md names them.
const (
	RoleSource      Role = "source"
	RoleBridge      Role = "bridge"
	RoleRouter      Role = "router"
	RoleDestination Role = "destination"
)

// Hop is one namespace on a path: the interface the packet enters by (none
// at the source) and leaves by (none at the destination).
type Hop struct {
	Namespace string
	Inode     uint64
	Container *nsstate.Container // the container whose namespace it is
	In, Out   string
	Role      Role
	// DNATTo is where a DNAT in this namespace, as conntrack showed it,
	// sent the packet (judge.WalkNAT): the path goes on toward it.
	DNATTo netip.AddrPort
}

// FamilyPath is one direction's path in one IP family. Truncated says it
// goes on past MaxHops namespaces: its last hop's out leads to a namespace
// nsdump did not follow (nor capture, unless it is the destination).
type FamilyPath struct {
	Direction string `json:"direction"`
	Family    int    `json:"family"`
	Hops      []Hop  `json:"hops"`
	Truncated bool   `json:"truncated"`
}

type hopJSON struct {
	Namespace string             `json:"namespace"`
	Inode     uint64             `json:"inode"`
	Container *nsstate.Container `json:"container,omitempty"`
	In        *string            `json:"in"`
	Out       *string            `json:"out"`
	Role      Role               `json:"role"`
	DNATTo    netip.AddrPort     `json:"dnat_to,omitzero"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MarshalJSON writes a missing interface as null.
func (h Hop) MarshalJSON() ([]byte, error) {
	return json.Marshal(hopJSON{h.Namespace, h.Inode, h.Container, nullable(h.In), nullable(h.Out), h.Role, h.DNATTo})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (h *Hop) UnmarshalJSON(b []byte) error {
	var j hopJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Hop{Namespace: j.Namespace, Inode: j.Inode, Container: j.Container, Role: j.Role, DNATTo: j.DNATTo}
	if j.In != nil {
		h.In = *j.In
	}
	if j.Out != nil {
		h.Out = *j.Out
	}
	return nil
}

// Lookup is one route lookup a path or a judgement made: `ip route get DST
// [from SRC iif IFACE]` in a namespace, and the kernel's answer.
type Lookup struct {
	Namespace string     `json:"namespace"`
	Dst       netip.Addr `json:"dst"`
	From      netip.Addr `json:"from,omitzero"`
	Iif       string     `json:"iif,omitempty"`
	OK        bool       `json:"ok"`
	Type      string     `json:"type,omitempty"` // unicast, local, blackhole, unreachable, prohibit
	Dev       string     `json:"dev,omitempty"`
	Gateway   netip.Addr `json:"gateway,omitzero"`
	Src       netip.Addr `json:"src,omitzero"` // the source address the route picks
	Command   string     `json:"command"`
	Output    string     `json:"output"` // the first line ip route get prints, or its error
	// Errno names the kernel's refusal of a failed lookup: ENETUNREACH,
	// EHOSTUNREACH, EXDEV (reverse-path filtering), EINVAL (a blackhole).
	Errno string `json:"errno,omitempty"`
	// Blocking is the blackhole, unreachable or prohibit route a failed
	// lookup met, if that is why it failed.
	Blocking nsstate.BlockingRoute `json:"blocking,omitzero"`
}
