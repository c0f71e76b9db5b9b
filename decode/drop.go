package decode

import (
	"strings"

	"github.com/nsdump/nsdump/capture"
)

// A drop monitor (nsdump capture --drops) writes the packets the kernel
// dropped on a capture point NS/drops (capture.DropsPoint); such a
// packet joins its exchange as a sighting that carries the kernel's drop:
// the monitor's typed one (capture.Frame.Drop), or in a file its comment,
// read in Tracker.AddMatched.

// probeOf is the probe a `trace -w` file ties a packet to, "A->B mtu",
// from the packet's comment: its last line is the probe's verdict,
// "A->B mtu: ok in A" (after the kernel's line on a drop point). "" for
// a packet of no probe, or a comment of another tool.
func probeOf(comment string) string {
	if comment == "" {
		return "" // most packets: every sighting asks
	}
	if i := strings.LastIndexByte(comment, '\n'); i >= 0 {
		comment = comment[i+1:]
	} else if _, drop := capture.ParseDropComment(comment); drop {
		return ""
	}
	head, _, ok := strings.Cut(comment, ": ")
	dir, kind, two := strings.Cut(head, " ")
	if !ok || !two || !strings.Contains(dir, "->") || kind == "" || strings.ContainsAny(kind, " \t") {
		return ""
	}
	return head
}

// ProbeKind is the kind of the probe named as probeOf gives it: "mtu" of
// "A->B mtu".
func ProbeKind(probe string) string {
	_, kind, _ := strings.Cut(probe, " ")
	return kind
}

// DropNotes says where and why the kernel dropped packets of the exchange:
// "the SYN was dropped in B: NETFILTER_DROP at nft_do_chain (veth1)".
func (e *Exchange) DropNotes() []string {
	var notes []string
	for _, s := range e.Seen {
		if s.Drop.IsZero() || s.Stray {
			continue // a drop of trace's own is no note on the path
		}
		ns, _ := capture.DropsNamespace(s.Point)
		// From a file, both may hold anything: escaped like every comment.
		notes = append(notes, "the "+PacketNoun(e.Kind, Printable(s.What))+" was dropped in "+Printable(ns)+": "+Printable(s.Drop.String()))
	}
	return notes
}

// PacketNoun names a sighting's packet (its What) in an exchange of kind
// for a sentence: "SYN", "echo request", "ARP request".
func PacketNoun(kind ExchangeKind, what string) string {
	switch what {
	case "[S]":
		return "SYN"
	case "[S.]":
		return "SYN-ACK"
	case "[R]", "[R.]":
		return "reset"
	case "request", "reply":
		switch kind {
		case KindEcho, KindEcho6:
			return "echo " + what
		case KindUDPFlow:
			return "UDP " + what
		}
	case "query", "response":
		return "DNS " + what
	case "who-has":
		return "ARP request"
	case "is-at":
		return "ARP reply"
	}
	if strings.HasPrefix(what, "[") {
		return "TCP segment " + what
	}
	return what
}

// Probe is the kind of the trace probe whose packets the exchange holds,
// as a trace -w file ties them ("mtu", "icmp-echo", "tcp"), or ProbeNone.
func (e *Exchange) Probe() string {
	for _, s := range e.Seen {
		if s.Probe != "" {
			return ProbeKind(s.Probe)
		}
	}
	return ProbeNone
}
