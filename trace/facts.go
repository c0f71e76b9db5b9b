package trace

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/topology"
)

// Facts is what a multi-hop judgement is made from, gathered before any
// judging: the namespaces on the paths, the route lookups made there, their
// firewall rules, and for each probe where its packets were seen. judge
// reads nothing else, so a recorded Facts is judged again without root.
type Facts struct {
	Namespaces []*topology.NamespaceState `json:"namespaces"`
	Lookups    []Lookup                   `json:"lookups"`
	Rules      []Rule                     `json:"rules,omitempty"`
	Probes     []ProbeFacts               `json:"probes,omitempty"`
}

// Dir is the direction of a sighting at a capture point.
type Dir uint8

// Directions of a sighting.
const (
	DirIn Dir = iota + 1
	DirOut
)

func (d Dir) String() string {
	switch d {
	case DirIn:
		return "In"
	case DirOut:
		return "Out"
	}
	return "?"
}

// MarshalJSON writes In or Out.
func (d Dir) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads In or Out.
func (d *Dir) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	switch s {
	case "In":
		*d = DirIn
	case "Out":
		*d = DirOut
	default:
		return fmt.Errorf("direction %q is neither In nor Out", s)
	}
	return nil
}

// Sight is one sighting of a probe's packet at a capture point.
type Sight struct {
	Namespace string `json:"namespace"`
	Iface     string `json:"iface"`
	Dir       Dir    `json:"dir"`
}

// ICMPSeen is an ICMP error about a probe's packet, with who sent it and
// where it was seen.
type ICMPSeen struct {
	From netip.Addr `json:"from"`
	Type uint8      `json:"type"`
	Code uint8      `json:"code"`
	Text string     `json:"text"`
	Seen []Sight    `json:"seen"`
}

// KernelDropSeen is the kernel's drop of a probe's packet.
type KernelDropSeen struct {
	Namespace string `json:"namespace"`
	Reason    string `json:"reason"`
	Location  string `json:"location"`
}

// Packet is what a firewall rule is matched against: a probe's request or
// its answer.
type Packet struct {
	Family   int        `json:"family"`
	Proto    string     `json:"proto"` // icmp, ipv6-icmp, tcp
	Src      netip.Addr `json:"src"`
	Dst      netip.Addr `json:"dst"`
	SPort    uint16     `json:"sport,omitempty"`
	DPort    uint16     `json:"dport,omitempty"`
	ICMPType string     `json:"icmp_type,omitempty"` // echo-request, echo-reply
}

// ProbeFacts is one probe as the captures saw it.
type ProbeFacts struct {
	Direction string `json:"direction"`
	Kind      string `json:"kind"`
	Family    int    `json:"family"`
	OK        bool   `json:"ok"`
	Path      []Hop  `json:"path"`
	Back      []Hop  `json:"back"`
	// PathTruncated (BackTruncated) says Path (Back) goes on past MaxHops
	// namespaces, beyond what was followed and captured.
	PathTruncated bool   `json:"path_truncated,omitempty"`
	BackTruncated bool   `json:"back_truncated,omitempty"`
	Request       Packet `json:"request"`
	Answer        Packet `json:"answer"`
	// Resolution says the request never left its sender and RequestSeen
	// holds the sightings of its neighbour resolution (ARP or NDP) instead.
	Resolution  bool             `json:"resolution,omitempty"`
	RequestSeen []Sight          `json:"request_seen"`
	AnswerSeen  []Sight          `json:"answer_seen"`
	Refused     bool             `json:"refused,omitempty"` // a TCP reset answered
	Errors      []ICMPSeen       `json:"icmp_errors,omitempty"`
	Drops       []KernelDropSeen `json:"kernel_drops,omitempty"`
}

// state is the recorded state of namespace ns, or nil.
func (f *Facts) state(ns string) *topology.NamespaceState {
	for _, st := range f.Namespaces {
		if st.Name == ns {
			return st
		}
	}
	return nil
}

// lookup is the recorded lookup in ns for dst with iif, if one was made.
func (f *Facts) lookup(ns string, dst netip.Addr, iif string) (Lookup, bool) {
	for _, l := range f.Lookups {
		if l.Namespace == ns && l.Dst == dst && l.Iif == iif {
			return l, true
		}
	}
	return Lookup{}, false
}
