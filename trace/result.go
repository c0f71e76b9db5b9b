package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/judge"
)

// Config is one trace; nil fields of a *Config passed to Run take defaults.
type Config struct {
	From, To string     // namespaces A and B (any target: name, pid:N, path)
	ToAddr   netip.Addr // B's address to probe; by default the one A's route reaches through the interface facing B
	FromAddr netip.Addr // A's address, the source of A's probes and what B probes; chosen the same way by default
	Port     uint16     // TCP port; default 7096
	Count    int        // echo requests per direction; default 3
	Timeout  time.Duration
	NoListen bool // probe whatever is (or is not) listening instead of listening ourselves
	// NoNFTrace: ask no namespace's nftables what it did to the probes
	// (no table of nsdump's in anyone's firewall); rules are evaluated.
	NoNFTrace bool
	// Targets hold From and To, and the namespaces the paths cross as
	// the trace finds them: each is opened once and reached through them
	// from then on. nil: Run holds its own for the trace's time.
	Targets *topology.Targets
	// UDPPort, when not 0, adds the udp probe: datagrams each way to this
	// port, echoed by a responder trace runs there (unless NoListen).
	UDPPort uint16
	// DNSName, when not empty, adds the dns probe: From asks the first
	// nameserver of its own resolv.conf for the name's addresses.
	DNSName string
}

// Endpoint is one side of the trace: Address is the one probed in the
// first family, Addresses one per family probed.
type Endpoint struct {
	Namespace string     `json:"namespace"`
	Inode     uint64     `json:"inode"`
	Container *Container `json:"container,omitempty"`
	Address   string     `json:"address"`
	Addresses []string   `json:"addresses"`
}

// Container is the container whose namespace an endpoint is, as its
// engine knows it (docs/containers.md).
type Container struct {
	Engine string `json:"engine"`
	Name   string `json:"name"`
	ID     string `json:"id"`
}

// Probe is one probe's verdict.
type Probe struct {
	Direction string            `json:"direction"`
	Kind      facts.ProbeKind   `json:"kind"`
	Family    int               `json:"family"`
	OK        bool              `json:"ok"`
	Cause     facts.Cause       `json:"cause"`
	Namespace string            `json:"namespace"`
	RouteGet  *judge.RouteGet   `json:"route_get"`
	Fix       string            `json:"fix,omitempty"`
	Detail    string            `json:"detail"`
	RTTms     *float64          `json:"rtt_ms,omitempty"`
	Sent      int               `json:"sent,omitempty"`
	Received  int               `json:"received,omitempty"`
	Delivered *bool             `json:"message_delivered,omitempty"`
	Listener  *facts.Listener   `json:"listener,omitempty"` // a listener that was there before the trace
	Seen      []decode.Sighting `json:"seen"`
	// KernelDrops are the kernel's drops of this probe's packets, with
	// its reason; empty when none, null without the drop monitor.
	KernelDrops []KernelDrop `json:"kernel_drops"`
}

// Result is `nsdump trace --json`; Points and Frames are what the capture
// saw, for -w.
type Result struct {
	From Endpoint `json:"from"`
	To   Endpoint `json:"to"`
	OK   bool     `json:"ok"`
	// Path is the way each direction's packets go, found from kernel
	// state before the probes, keyed "A->B" (the first family's).
	Path map[string][]facts.Hop `json:"path"`
	// Paths are every family's paths, each direction's: a probe's path is
	// the one with its direction and family.
	Paths  []facts.FamilyPath `json:"paths"`
	Probes []Probe            `json:"probes"`
	Facts  *facts.Facts       `json:"facts,omitempty"`
	Points []capture.Point    `json:"-"`
	Frames []capture.Frame    `json:"-"`
	Report decode.Report      `json:"-"`
	// DropsUnavailable says why the kernel's drop reasons are missing
	// (no BTF, no privilege, ...); nil when the monitor ran.
	DropsUnavailable error `json:"-"`
	// DropsLost counts the drops the monitor had no room for.
	DropsLost uint64 `json:"-"`
	// NFTables are the tables nsdump made to trace the probes ("inet
	// nsdump_trace_1_1 in A"), removed again.
	NFTables []string `json:"nft_tables,omitempty"`
	// dropInodes are the namespaces of the NS/drops points, by point.
	dropInodes map[string]uint64
}

// WithDefaults fills the zero fields with the documented defaults.
func (c Config) WithDefaults() Config {
	if c.Port == 0 {
		c.Port = 7096
	}
	if c.Count <= 0 {
		c.Count = 3
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	return c
}

// judgeAll gives every probe its verdict, from the facts alone.
func (res *Result) judgeAll() {
	res.OK = true
	for i := range res.Probes {
		p := &res.Probes[i]
		p.take(judge.Judge(res.Facts, res.Facts.Probes[i]))
		if p.Cause == facts.CauseNeighbor {
			p.Seen = withResolutions(p.Seen, res.Report.Exchanges, res.Facts.Probes[i])
		}
		res.OK = res.OK && p.OK
	}
}

// withResolutions adds to a neighbor-unreachable probe's sightings those of
// the unanswered neighbour resolutions (ARP, NDP) asked in the namespaces
// of its paths, in the order seen: the evidence of the verdict, placed as
// docs/trace.md says. They carry no frame number, so that a -w file's
// comments tie no resolution to the probe.
func withResolutions(seen []decode.Sighting, exchanges []*decode.Exchange, pf facts.ProbeFacts) []decode.Sighting {
	names := []string{pf.From, pf.To}
	for _, h := range append(slices.Clone(pf.Path), pf.Back...) {
		names = append(names, h.Namespace)
	}
	out := slices.Clone(seen)
	for _, ex := range exchanges {
		if ex.Kind != decode.KindARPRes && ex.Kind != decode.KindNDP || ex.Status != decode.StatusUnanswered {
			continue
		}
		for _, s := range ex.Seen {
			i := strings.LastIndex(s.Point, "/")
			if i > 0 && slices.Contains(names, s.Point[:i]) {
				s.Frame = 0
				out = append(out, s)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b decode.Sighting) int { return a.Time.Compare(b.Time) })
	return out
}

// Summary is the probe's verdict in one line, as a -w file's comments
// carry it: "A->B icmp: no-route in A; fix: ...".
func (p Probe) Summary() string {
	v := fmt.Sprintf("%s %s: %s in %s", p.Direction, p.Kind, p.Cause, p.Namespace)
	if p.Fix != "" {
		v += "; fix: " + p.Fix
	}
	return v
}

// FrameVerdicts is, for each of res.Frames, the verdict (Summary) of the
// probe whose packet the frame is, "" for a frame no probe saw: joined by
// the frame's number in the capture, which the probe's sightings carry.
func (res *Result) FrameVerdicts() []string {
	out := make([]string, len(res.Frames))
	for _, p := range res.Probes {
		v := p.Summary()
		for _, s := range p.Seen {
			if s.Frame >= 1 && s.Frame <= len(out) {
				out[s.Frame-1] = v
			}
		}
	}
	return out
}

// take gives the probe the verdict v.
func (p *Probe) take(v judge.Verdict) {
	p.OK, p.Cause, p.Namespace, p.Detail, p.Fix, p.RouteGet = v.OK, v.Cause, v.Namespace, v.Detail, v.Fix, v.RouteGet
}

// KernelDrop is the kernel's own word on a packet of a probe it dropped
// (skb:kfree_skb): evidence beside the rule or setting nsdump found.
type KernelDrop struct {
	Namespace string             `json:"namespace"`
	Inode     uint64             `json:"inode"`
	Container *nsstate.Container `json:"container,omitempty"`
	Reason    string             `json:"reason"`   // e.g. NETFILTER_DROP
	Location  string             `json:"location"` // e.g. nft_do_chain
	Interface string             `json:"interface,omitempty"`
	Time      time.Time          `json:"time"`
	What      string             `json:"what"` // the packet, as its sighting names it
	// Stray: trace's own making, not the path's (ProbeFacts.stray).
	Stray bool `json:"stray,omitempty"`
}
