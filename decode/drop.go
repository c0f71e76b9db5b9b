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

// DropNotes says where and why the kernel dropped packets of the exchange:
// "the SYN was dropped in B: NETFILTER_DROP at nft_do_chain (veth1)".
func (e *Exchange) DropNotes() []string {
	var notes []string
	for _, s := range e.Seen {
		if s.Drop.IsZero() {
			continue
		}
		ns, _ := capture.DropsNamespace(s.Point)
		// From a file, both may hold anything: escaped like every comment.
		notes = append(notes, "the "+PacketNoun(e.Kind, Printable(s.What))+" was dropped in "+Printable(ns)+": "+Printable(s.Drop.String()))
	}
	return notes
}

// PacketNoun names a sighting's packet (its What) in an exchange of kind
// for a sentence: "SYN", "echo request", "ARP request".
func PacketNoun(kind, what string) string {
	switch what {
	case "[S]":
		return "SYN"
	case "[S.]":
		return "SYN-ACK"
	case "[R]", "[R.]":
		return "reset"
	case "request", "reply":
		if kind == KindEcho || kind == KindEcho6 {
			return "echo " + what
		}
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
