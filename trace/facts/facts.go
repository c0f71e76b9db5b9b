package facts

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
)

// Facts is what every judgement is made from, gathered before any
// judging: the namespaces on the paths (before the probes, and the ends
// after them), the route lookups made there, their firewall rules, the
// kernel's drop counters, and for each probe what its socket said and
// where its packets were seen. Judge reads nothing else, so a recorded
// Facts is judged again without root.
type Facts struct {
	Namespaces []*nsstate.NamespaceState `json:"namespaces"`
	// After is the two ends read after the probes (their neighbour
	// tables as the probes left them), then the namespaces behind their
	// veth peers and bridges: where an address conflict's impostor sits.
	After   []*nsstate.NamespaceState `json:"after,omitempty"`
	Lookups []Lookup                  `json:"lookups"`
	Rules   []Rule                    `json:"rules,omitempty"`
	// Counters are the ends' drop and error counters that grew while the
	// probes ran.
	Counters []Counter `json:"counters,omitempty"`
	// Resolutions are the neighbour resolutions (ARP who-has, NDP
	// neighbor solicitation) the captures saw, by the address asked for.
	Resolutions []Resolution `json:"resolutions,omitempty"`
	Probes      []ProbeFacts `json:"probes,omitempty"`
	// Kernel is the per-namespace kernel state of issue 19 (kstate.go),
	// stored under top-level keys of its own (kstate_json.go).
	Kernel *KernelFacts `json:"-"`
	// Gaps are the evidence gathering could not read.
	Gaps []Gap `json:"gaps,omitempty"`
	// NFTrace, NFTraced and Conntrack are the kernel's own word on the
	// probes' packets (nffacts.go): what decided each in nftables, the
	// namespaces whose trace was read, and what conntrack translated.
	NFTrace   []NFDecision     `json:"nft_trace,omitempty"`
	NFTraced  []string         `json:"nft_traced,omitempty"`
	Conntrack []ConntrackEntry `json:"conntrack,omitempty"`
	// Engines is what Docker and Podman said of their networks and
	// containers (engine.go).
	Engines *EngineFacts `json:"engines,omitempty"`

	// work counts what judging the facts compared: rules walked and the
	// values of their conditions. budget, when not 0, is how much may be
	// compared before rule matching stops (stored facts get one linear in
	// their size).
	work, budget int
}

// Counter is one of the kernel's protocol counters of a namespace
// ("TcpExt:IPReversePathFilter") and how much it grew.
type Counter struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Grew      uint64 `json:"grew"`
}

// Resolution is one sighting of a neighbour resolution for Target;
// Unanswered when no reply to it was seen.
type Resolution struct {
	Target     netip.Addr `json:"target"`
	Unanswered bool       `json:"unanswered,omitempty"`
	Sight
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
	What      string `json:"what,omitempty"` // the packet: "echo request", "SYN"
	// Stray says the drop is of trace's own making, not the path's (see
	// ProbeFacts.stray): shown, never weighed against a verdict. Judge
	// decides it again from the other fields; a file cannot set it.
	Stray bool `json:"stray,omitempty"`
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

// ProbeFacts is one probe: what its socket said, where its packets were
// seen, and the route lookups of the namespaces a verdict may blame.
type ProbeFacts struct {
	Direction string    `json:"direction"`
	Kind      ProbeKind `json:"kind"`
	Family    int       `json:"family"`
	From      string    `json:"from"` // the sender's namespace
	To        string    `json:"to"`   // the destination's
	// OK says the probe passed at its socket: every echo answered, or
	// connected and the test message delivered. The verdict may still
	// fail it (an address conflict).
	OK     bool        `json:"ok"`
	Socket SocketFacts `json:"socket"`
	Path   []Hop       `json:"path"`
	Back   []Hop       `json:"back"`
	// PathTruncated (BackTruncated) says Path (Back) goes on past MaxHops
	// namespaces, beyond what was followed and captured.
	PathTruncated bool   `json:"path_truncated,omitempty"`
	BackTruncated bool   `json:"back_truncated,omitempty"`
	Request       Packet `json:"request"`
	Answer        Packet `json:"answer"`
	// RouteGets are the lookups made after the probes, one per namespace
	// a verdict may blame: the destination's route back to the source,
	// any other's route to the destination. A failed one names the
	// blocking route it met.
	RouteGets   []Lookup         `json:"route_gets"`
	RequestSeen []Sight          `json:"request_seen"`
	AnswerSeen  []Sight          `json:"answer_seen"`
	Refused     bool             `json:"refused,omitempty"` // a TCP reset answered
	Errors      []ICMPSeen       `json:"icmp_errors,omitempty"`
	Drops       []KernelDropSeen `json:"kernel_drops,omitempty"`
	MTU         *MTUFacts        `json:"mtu,omitempty"` // the mtu probe's own
	DNS         *DNSFacts        `json:"dns,omitempty"` // the dns probe's own (udp.go)
	// Revisits are the request's packets seen again where they had been,
	// with a lower TTL (hop limit): a packet that went round a loop.
	Revisits []Revisit `json:"revisits,omitempty"`
}

// Revisit is one packet seen twice at one capture point, in one
// direction: first with TTL, then again with Again, lower.
type Revisit struct {
	Sight
	TTL   uint8 `json:"ttl"`
	Again uint8 `json:"ttl_again"`
}

// SocketFacts is what the probe's socket said.
type SocketFacts struct {
	Count    int         `json:"count,omitempty"` // echo requests to send
	Sent     int         `json:"sent,omitempty"`
	Received int         `json:"received,omitempty"`
	SendErr  SocketError `json:"send_error,omitzero"`    // sendto's first error
	ConnErr  SocketError `json:"connect_error,omitzero"` // a TCP connect's
	RecvErr  SocketError `json:"recv_error,omitzero"`    // a UDP socket's: ECONNREFUSED is an ICMP port unreachable
	ICMPErr  string      `json:"icmp_error,omitempty"`   // an ICMP error that reached the socket
	// Connected: the TCP handshake completed; Delivered: the test
	// message reached the listener the trace started (nil without one).
	Connected bool      `json:"connected,omitempty"`
	Delivered *bool     `json:"delivered,omitempty"`
	Listener  *Listener `json:"listener,omitempty"` // what listened before the trace
}

// SocketError is an error a probe's socket returned: its errno's name
// when it is one (ENETUNREACH, EHOSTUNREACH, ECONNREFUSED), and its text.
type SocketError struct {
	Errno string `json:"errno,omitempty"`
	Text  string `json:"text"`
}

// Is reports whether the error is the errno named.
func (e SocketError) Is(errno string) bool { return e.Errno != "" && e.Errno == errno }

// MTUFacts is what the mtu probe was sized by and what came of it.
type MTUFacts struct {
	Dev      string `json:"dev"` // the sender's interface, and its MTU
	MTU      int    `json:"mtu"`
	PeerNS   string `json:"peer_namespace,omitempty"` // its veth peer, and the peer's MTU, if known
	Peer     string `json:"peer,omitempty"`
	PeerMTU  int    `json:"peer_mtu,omitempty"`
	PathMTU  int    `json:"path_mtu,omitempty"`   // a frag-needed / packet-too-big that reached the sender
	Cached   int    `json:"cached_mtu,omitempty"` // the path MTU the sender's route held from an earlier one, when its socket refused to send
	ErrFrom  string `json:"error_from,omitempty"` // who sent it
	TooBig   string `json:"too_big,omitempty"`    // one seen by the capture that did not reach the sender
	LastSeen string `json:"last_seen"`            // where the large request was last seen
	SendErr  string `json:"send_error,omitempty"` // what the socket said when it could not send
}

// State is the recorded state of namespace ns, or nil.
func (f *Facts) State(ns string) *nsstate.NamespaceState {
	for _, st := range f.Namespaces {
		if st.Name == ns {
			return st
		}
	}
	return nil
}

// Lookup is the recorded lookup in ns for dst with iif, if one was made.
func (f *Facts) Lookup(ns string, dst netip.Addr, iif string) (Lookup, bool) {
	for _, l := range f.Lookups {
		if l.Namespace == ns && l.Dst == dst && l.Iif == iif {
			return l, true
		}
	}
	return Lookup{}, false
}

// StateAfter is the state of ns read after the probes, or nil.
func (f *Facts) StateAfter(ns string) *nsstate.NamespaceState {
	for _, st := range f.After {
		if st.Name == ns {
			return st
		}
	}
	return nil
}

// LookupIn is p's recorded lookup in ns; OK false when none was made.
func (p ProbeFacts) LookupIn(ns string) Lookup {
	for _, lk := range p.RouteGets {
		if lk.Namespace == ns {
			return lk
		}
	}
	return Lookup{Namespace: ns, Output: "no route lookup recorded"}
}

// RouteGetCommand is the `ip route get` that does the lookup.
func (lk Lookup) RouteGetCommand() cmdline.Command {
	var args []string
	if lk.Dst.Is6() {
		args = append(args, "-6")
	}
	args = append(args, "route", "get", lk.Dst.String())
	if lk.From.IsValid() {
		args = append(args, "from", lk.From.String(), "iif", lk.Iif)
	}
	return cmdline.IP(lk.Namespace, args...)
}

// Listener is a process that listened on the probed port before the trace.
type Listener struct {
	Address string `json:"address"` // as bound: 0.0.0.0:7096, [::]:7096
	PID     int    `json:"pid,omitempty"`
	Comm    string `json:"comm,omitempty"`
}

func (l *Listener) String() string {
	if l.PID == 0 {
		return "a socket on " + l.Address + " (no process found holding it)"
	}
	return fmt.Sprintf("pid %d %s on %s", l.PID, l.Comm, l.Address)
}

// Gap is evidence gathering could not read: what, in which namespace, and
// why. It is a fact like the rest: a failed verdict that may rest on what
// is missing says so, where a silent empty list would read as "no rule to
// blame".
type Gap struct {
	What      string `json:"what"` // "nftables rules", "iptables-legacy rules", "kernel counters", "links and neighbours"
	Namespace string `json:"namespace"`
	Error     string `json:"error"`
}

// String is how a verdict names the gap: "could not list nftables rules
// in B: ...".
func (g Gap) String() string {
	switch {
	case g.What == GapEngine:
		return "could not ask a container engine: " + g.Error
	case g.What != GapNFTrace && g.What != GapConntrack && g.What != GapConntrackEvents:
		return "could not list " + g.What + " in " + g.Namespace + ": " + g.Error
	case g.Namespace == "":
		return g.What + " unavailable: " + g.Error
	}
	return g.What + " unavailable in " + g.Namespace + ": " + g.Error
}

// The gaps gathering records.
const (
	GapNftables  = "nftables rules"
	GapLegacy    = "iptables-legacy rules"
	GapCounters  = "kernel counters"
	GapLinkState = "links and neighbours"
	// The kernel's word (nftrace_linux.go): its trace, and conntrack's
	// table and events.
	GapNFTrace         = "nftables trace"
	GapConntrack       = "conntrack"
	GapConntrackEvents = "conntrack events"
	GapEngine          = "container engine"
)
