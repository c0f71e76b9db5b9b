package trace

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/drops"
	"github.com/nsdump/nsdump/topology"
)

// KernelDrop is the kernel's own word on a packet of a probe it dropped
// (skb:kfree_skb): evidence beside the rule or setting nsdump found.
type KernelDrop struct {
	Namespace string    `json:"namespace"`
	Inode     uint64    `json:"inode"`
	Reason    string    `json:"reason"`   // e.g. NETFILTER_DROP
	Location  string    `json:"location"` // e.g. nft_do_chain
	Interface string    `json:"interface,omitempty"`
	Time      time.Time `json:"time"`
	What      string    `json:"what"` // the packet, as its sighting names it
	// Stray: trace's own making, not the path's (ProbeFacts.stray).
	Stray bool `json:"stray,omitempty"`
}

// dropWatch is the drop monitor of one trace: the drops of every
// namespace on the path while the probes run, as frames on a point
// NS/drops each (drops.Recorder).
type dropWatch struct {
	rec    *drops.Recorder
	frames []capture.Frame
}

// openDropWatch starts the monitor on the namespaces of a and b and those
// between them. When the kernel or the process cannot, the error says what
// is missing and the trace goes on without kernel drops.
func openDropWatch(a, b *side, between []string) (*dropWatch, error) {
	var namespaces []drops.Namespace
	for _, s := range []*side{a, b} {
		ino, err := topology.Inode(s.ns)
		if err != nil {
			return nil, err
		}
		namespaces = append(namespaces, drops.Namespace{Name: s.name, Inode: ino})
	}
	for _, name := range between {
		ns, err := topology.OpenNamespace(name)
		if err != nil {
			return nil, err
		}
		ino, err := topology.Inode(ns)
		ns.Close()
		if err != nil {
			return nil, err
		}
		namespaces = append(namespaces, drops.Namespace{Name: name, Inode: ino})
	}
	rec, err := drops.NewRecorder(namespaces, nil)
	if err != nil {
		return nil, err
	}
	return &dropWatch{rec: rec}, nil
}

// start adds the drop points to res and keeps every drop until stop.
func (w *dropWatch) start(ctx context.Context, res *Result) {
	res.Points = append(res.Points, w.rec.Points(len(res.Points), true)...)
	res.dropInodes = map[string]uint64{}
	for _, p := range res.Points {
		if ino, ok := w.rec.Inode(p.Name); ok {
			res.dropInodes[p.Name] = ino
		}
	}
	w.rec.Start(ctx, func(f capture.Frame) error {
		f.Data = bytes.Clone(f.Data) // the recorder's buffer, until sink returns
		w.frames = append(w.frames, f)
		return nil
	})
}

// stop ends the monitor and merges its drops, in time order, with what was
// captured.
func (w *dropWatch) stop(res *Result) error {
	_, lost, err := w.rec.Stop()
	res.DropsLost = lost
	res.Frames = mergeFrames(res.Frames, w.frames)
	return err
}

// mergeFrames merges two time-ordered frame lists.
func mergeFrames(a, b []capture.Frame) []capture.Frame {
	if len(b) == 0 {
		return a
	}
	out := make([]capture.Frame, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].Time.Before(a[0].Time) {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// attachKernelDrops gives each probe the kernel drops of its own packets
// (the sightings on a NS/drops point), as the kernel reported them. What
// the judgement makes of them comes from the facts (kernelSaysOtherwise).
func (res *Result) attachKernelDrops() {
	for i := range res.Probes {
		p := &res.Probes[i]
		p.KernelDrops = []KernelDrop{}
		for _, s := range p.Seen {
			if s.Drop.IsZero() {
				continue
			}
			ns, _ := capture.DropsNamespace(s.Point)
			iface := s.Drop.Iface
			if iface == capture.NoDevice {
				iface = ""
			}
			kd := KernelDrop{Namespace: ns, Inode: res.dropInodes[s.Point],
				Reason: s.Drop.Reason, Location: s.Drop.Location, Interface: iface, Time: s.Time, What: decode.PacketNoun(p.Kind, s.What)}
			kd.Stray = res.Facts.Probes[i].stray(KernelDropSeen{Namespace: kd.Namespace, Reason: kd.Reason, Location: kd.Location})
			p.KernelDrops = append(p.KernelDrops, kd)
		}
	}
}

// socketDelivery are the kernel functions that hand a packet that has
// arrived to its socket: a drop there is of a packet the path delivered.
var socketDelivery = []string{"ping_rcv", "tcp_v4_rcv", "tcp_v6_rcv", "raw_rcv", "rawv6_rcv"}

// stray reports whether a kernel drop of the probe's packets is trace's
// own making rather than the path's: a socket that closed throwing away
// what it held (QUEUE_PURGE); in the sender a packet the path delivered
// that no socket of the probe wanted any more: the duplicate of an echo
// reply its raw and datagram sockets both see (NO_SOCKET at ping_rcv), a
// SYN-ACK retransmitted after the probe's socket closed (NOT_SPECIFIED or
// NO_SOCKET at tcp_v4_rcv); in the destination, once its SYN-ACK was seen
// leaving, a retransmitted SYN its half-open connection answers again and
// then discards (NOT_SPECIFIED at tcp_v4_rcv). Such a drop says nothing of
// where the probe's packets were lost; it is kept, marked, never weighed
// against the verdict.
func (p ProbeFacts) stray(kd KernelDropSeen) bool {
	switch {
	case kd.Reason == "QUEUE_PURGE":
		return true
	case !slices.Contains(socketDelivery, kd.Location):
		return false
	case kd.Namespace == p.From:
		return true
	}
	synAgain := kd.Reason == "NOT_SPECIFIED" && (kd.What == "SYN" || strings.HasPrefix(kd.What, "TCP segment [S]"))
	return kd.Namespace == p.To && synAgain && !p.Refused &&
		slices.ContainsFunc(p.AnswerSeen, func(s Sight) bool { return s.Namespace == p.To && s.Dir == DirOut })
}

// evidence is what the kernel's drops of the probe say of its path: its
// drops less the stray ones.
func (p ProbeFacts) evidence() []KernelDropSeen {
	var out []KernelDropSeen
	for _, kd := range p.Drops {
		if !p.stray(kd) {
			out = append(out, kd)
		}
	}
	return out
}

// kernelSaysOtherwise is what a failed verdict's detail adds when the
// kernel's drops of the probe do not fit it: both are said.
func kernelSaysOtherwise(v Verdict, drops []KernelDropSeen) string {
	if v.OK || len(drops) == 0 {
		return ""
	}
	var other []string
	what := "" // the packet of the first drop that does not fit, not of the first drop
	for _, kd := range drops {
		if !kernelAgrees(v, kd) {
			if what == "" {
				what = kd.What
			}
			s := fmt.Sprintf("%s at %s in %s", kd.Reason, kd.Location, kd.Namespace)
			if !slices.Contains(other, s) {
				other = append(other, s)
			}
		}
	}
	if len(other) == 0 {
		return ""
	}
	return fmt.Sprintf("; the kernel says otherwise: it dropped the %s with %s (nsdump's diagnosis: %s in %s)",
		what, strings.Join(other, ", "), v.Cause, v.Namespace)
}

// causeReasons are the kernel's reasons that fit a cause; a cause not
// listed fits any reason in its namespace.
var causeReasons = map[string][]string{
	CauseNoRoute:       {"IP_OUTNOROUTES", "IP_INNOROUTES", "IP_INADDRERRORS"},
	CauseNoReturnRoute: {"IP_OUTNOROUTES", "IP_INNOROUTES", "IP_INADDRERRORS", "IP_RPFILTER"},
	CauseNeighbor:      {"NEIGH_FAILED", "NEIGH_QUEUEFULL", "NEIGH_DEAD", "NEIGH_CREATEFAIL"},
	CausePortClosed:    {"NO_SOCKET"},
	CauseRejected:      {"NETFILTER_DROP"},
}

// kernelAgrees reports whether a kernel drop fits the verdict: the same
// namespace, a reason that fits the cause, and for a drop the rule or
// setting nsdump named.
func kernelAgrees(v Verdict, kd KernelDropSeen) bool {
	if v.Cause == CauseMTU && kd.Reason == "PKT_TOO_BIG" {
		return true // the hop that cannot forward it, wherever the frag-needed dies
	}
	if v.Cause == CauseLinkDown && slices.Contains(causeReasons[CauseNeighbor], kd.Reason) && v.blamed.neighborOf == kd.Namespace {
		// A link down on the way of a neighbour resolution: the namespace
		// that asked gives up on its neighbour and drops what it queued.
		return true
	}
	if v.Cause == CauseNeighbor {
		// A neighbour that never resolved drops in the namespace that
		// asked, wherever the cause lies; frames from an interface with
		// ARP off carry its own MAC, which the next hop drops as another
		// host's (a bridge, as a frame for the port it came from).
		if slices.Contains(causeReasons[CauseNeighbor], kd.Reason) && v.blamed.neighborOf != "" && v.blamed.neighborOf == kd.Namespace {
			return true
		}
		noARPDrop := kd.Reason == "OTHERHOST" || strings.HasPrefix(kd.Location, "br_") || slices.Contains(causeReasons[CauseNeighbor], kd.Reason)
		if noARPDrop && v.blamed.noARP {
			return true
		}
	}
	if kd.Namespace != v.Namespace {
		return false
	}
	if rs, ok := causeReasons[v.Cause]; ok {
		return slices.Contains(rs, kd.Reason)
	}
	if v.Cause != CauseDropped {
		return true
	}
	// What the verdict found to blame, if anything.
	rule, rp := v.blamed.rule, v.blamed.rpFilter
	switch kd.Reason {
	case "NETFILTER_DROP":
		return rule || !rp
	case "IP_RPFILTER":
		return rp || !rule
	}
	return !rule && !rp
}
