package main

import (
	"bytes"
	"testing"

	"github.com/nsdump/nsdump/capture"
)

// TestWarnMixedLinkTypes: one line when a file's interfaces mix link
// types (libpcap refuses such a file), nothing when they share one.
func TestWarnMixedLinkTypes(t *testing.T) {
	eth := func(name string) capture.Point { return capture.Point{Name: name, LinkType: capture.LinkEthernet} }
	tests := []struct {
		name   string
		file   string
		points []capture.Point
		want   string
	}{
		{"none", "a.pcapng", nil, ""},
		{"Ethernet, drops included", "a.pcapng", []capture.Point{eth("A/veth0"), eth("B/veth1"), eth("B/drops")}, ""},
		{"a tun beside veths", "a.pcapng", []capture.Point{eth("A/veth0"), {Name: "A/tun0", LinkType: capture.LinkRaw}, eth("B/veth1")},
			"nsdump: warning: a.pcapng mixes link types ETHERNET (A/veth0), RAW (A/tun0): tcpdump/libpcap cannot read files mixing link types; Wireshark can\n"},
		{"three kinds, streamed", "-", []capture.Point{{Name: "A/sll", LinkType: capture.LinkSLL}, eth("A/veth0"), {Name: "A/x", LinkType: 147}},
			"nsdump: warning: the stream mixes link types LINUX_SLL (A/sll), ETHERNET (A/veth0), LINKTYPE_147 (A/x): tcpdump/libpcap cannot read files mixing link types; Wireshark can\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			warnMixedLinkTypes(&b, tt.file, tt.points)
			if b.String() != tt.want {
				t.Errorf("warning %q, want %q", b.String(), tt.want)
			}
		})
	}
}
