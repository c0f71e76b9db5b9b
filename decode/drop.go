package decode

import "strings"

// A drop monitor (nsdump capture --drops) writes the packets the kernel
// dropped on a capture point NS/drops, each with the comment
// "drop: REASON at LOCATION (IFACE)". Such a packet joins its exchange as
// a sighting that carries the reason.

const dropPrefix = "drop: "

// dropReason is the kernel's reason from a drop point's packet comment,
// "" for any other packet: its first line only, "REASON at LOCATION
// (IFACE)". trace -w adds a line with the probe's verdict to the same
// comment, which is not the kernel's word.
func dropReason(point, comment string) string {
	if !strings.HasSuffix(point, "/drops") || !strings.HasPrefix(comment, dropPrefix) {
		return ""
	}
	line, _, _ := strings.Cut(comment[len(dropPrefix):], "\n")
	return strings.TrimSuffix(line, "\r")
}

// DropNotes says where and why the kernel dropped packets of the exchange:
// "the SYN was dropped in B: NETFILTER_DROP at nft_do_chain (veth1)".
func (e *Exchange) DropNotes() []string {
	var notes []string
	for _, s := range e.Seen {
		if s.Drop == "" {
			continue
		}
		ns := strings.TrimSuffix(s.Point, "/drops")
		// From a file, both may hold anything: escaped like every comment.
		notes = append(notes, "the "+PacketNoun(e.Kind, Printable(s.What))+" was dropped in "+Printable(ns)+": "+Printable(s.Drop))
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
