package capture

import (
	"errors"
	"strings"
)

// The kernel's drops (nsdump capture --drops, trace's evidence) are
// packets on one capture point NS/drops per namespace, each with the
// kernel's reason, location and device: a typed Drop on the frame while
// nsdump holds it, the comment "drop: REASON at LOCATION (IFACE)" in a
// pcapng file. These are the one place that names such a point and the
// one place that writes and reads the comment.

// dropsSuffix ends the name of a drop monitor's capture point.
const dropsSuffix = "/drops"

// DropsPoint is the name of namespace ns's drop monitor point.
func DropsPoint(ns string) string { return ns + dropsSuffix }

// DropsNamespace is the namespace whose drops the capture point named
// point holds, and false for a point that is not a drop monitor's.
func DropsNamespace(point string) (string, bool) {
	return strings.CutSuffix(point, dropsSuffix)
}

// Drop is the kernel's word on a packet it dropped.
type Drop struct {
	Reason   string // the kernel's name without SKB_DROP_REASON_, e.g. NETFILTER_DROP
	Location string // the kernel function that dropped it, e.g. nft_do_chain
	Iface    string // the device, NoDevice when the packet had none, "" when a file did not say
}

// NoDevice is a drop's Iface when the packet had no device.
const NoDevice = "no device"

// IsZero reports whether d holds no drop (the packet was captured).
func (d Drop) IsZero() bool { return d == Drop{} }

// String is "REASON at LOCATION (IFACE)".
func (d Drop) String() string {
	s := d.Reason
	if d.Location != "" {
		s += " at " + d.Location
	}
	if d.Iface != "" {
		s += " (" + d.Iface + ")"
	}
	return s
}

// dropPrefix begins a drop's comment in a capture file.
const dropPrefix = "drop: "

// Comment is the pcapng comment a drop's packet carries:
// "drop: REASON at LOCATION (IFACE)".
func (d Drop) Comment() string { return dropPrefix + d.String() }

// ParseDropComment reads a drop back from its packet's comment in a file,
// false when the comment is not one. Only the first line is the kernel's
// word: trace -w adds a line with the probe's verdict to the same comment.
func ParseDropComment(comment string) (Drop, bool) {
	text, ok := strings.CutPrefix(comment, dropPrefix)
	if !ok {
		return Drop{}, false
	}
	line, _, _ := strings.Cut(text, "\n")
	return parseDrop(strings.TrimSuffix(line, "\r"))
}

// parseDrop reads "REASON at LOCATION (IFACE)"; files of nsdump before
// devices were named have no " (IFACE)".
func parseDrop(text string) (Drop, bool) {
	reason, rest, ok := strings.Cut(text, " at ")
	if !ok {
		return Drop{Reason: text}, text != ""
	}
	d := Drop{Reason: reason, Location: rest}
	if loc, iface, ok := strings.Cut(rest, " ("); ok && strings.HasSuffix(iface, ")") {
		d.Location, d.Iface = loc, strings.TrimSuffix(iface, ")")
	}
	return d, true
}

// MarshalText is the drop's String, as JSON shows it.
func (d Drop) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (d *Drop) UnmarshalText(b []byte) error {
	v, ok := parseDrop(string(b))
	if !ok {
		return errors.New("empty kernel drop")
	}
	*d = v
	return nil
}
