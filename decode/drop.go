package decode

import "strings"

// A drop monitor (nsdump capture --drops) writes the packets the kernel
// dropped on a capture point NS/drops, each with the comment
// "drop: REASON at LOCATION (IFACE)". Such a packet joins its exchange as
// a sighting that carries the reason.

const dropPrefix = "drop: "

// dropReason is the kernel's reason from a drop point's packet comment,
// "" for any other packet.
func dropReason(point, comment string) string {
	if !strings.HasSuffix(point, "/drops") || !strings.HasPrefix(comment, dropPrefix) {
		return ""
	}
	return comment[len(dropPrefix):]
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
		notes = append(notes, "the "+PacketNoun(e.Kind, s.What)+" was dropped in "+ns+": "+s.Drop)
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
