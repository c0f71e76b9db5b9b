package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
)

// warnMixedLinkTypes says, in one line on stderr, that the pcapng file
// about to be written has interfaces of more than one link type: libpcap
// (so tcpdump) refuses such a file at the first packet of the second type,
// Wireshark reads it. Nothing when they share one.
func warnMixedLinkTypes(stderr io.Writer, file string, points []capture.Point) {
	var kinds []string
	seen := map[capture.LinkType]bool{}
	for _, p := range points {
		if !seen[p.LinkType] {
			seen[p.LinkType] = true
			kinds = append(kinds, fmt.Sprintf("%s (%s)", p.LinkType, decode.Printable(p.Name)))
		}
	}
	if len(kinds) < 2 {
		return
	}
	if file == "-" {
		file = "the stream"
	}
	fmt.Fprintf(stderr, "nsdump: warning: %s mixes link types %s: tcpdump/libpcap cannot read files mixing link types; Wireshark can\n",
		decode.Printable(file), strings.Join(kinds, ", "))
}
