package decode

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/nsdump/nsdump/capture"
)

// cooked is a Linux cooked frame of the layers, checksums computed.
func cooked(t *testing.T, ethType uint16, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(ethType >> 8), byte(ethType)}, buf.Bytes()...)
}

// TestRoutedSighting: a router forwards a packet with its TTL (hop limit)
// one less and, in IPv4, a new header checksum. Seen entering and leaving
// it, that is one packet at two points, not a retransmission; the same SYN
// again a second later at the first point still is one.
func TestRoutedSighting(t *testing.T) {
	points := []capture.Point{{Name: "A/a0", LinkType: capture.LinkSLL}, {Name: "R/ra", LinkType: capture.LinkSLL}, {Name: "R/rb", LinkType: capture.LinkSLL}}
	syn := func(ttl uint8) []byte {
		ip := &layers.IPv4{Version: 4, TTL: ttl, Id: 7, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 1, 0, 1), DstIP: net.IPv4(10, 2, 0, 1)}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 7096, Seq: 1000, SYN: true, Window: 64240}
		tcp.SetNetworkLayerForChecksum(ip)
		return cooked(t, 0x0800, ip, tcp)
	}
	echo6 := func(hops uint8) []byte {
		ip := &layers.IPv6{Version: 6, HopLimit: hops, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.ParseIP("fd00:1::2"), DstIP: net.ParseIP("fd00:2::2")}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		icmp.SetNetworkLayerForChecksum(ip)
		return cooked(t, 0x86dd, ip, icmp, &layers.ICMPv6Echo{Identifier: 9, SeqNumber: 1})
	}
	ts := time.Unix(1700000000, 0)
	for _, tt := range []struct {
		name   string
		frames [][]byte // at points 0, 1, 2
		kind   ExchangeKind
	}{
		{"IPv4 SYN", [][]byte{syn(64), syn(64), syn(63)}, KindTCPConn},
		{"IPv6 echo", [][]byte{echo6(64), echo6(64), echo6(63)}, KindEcho6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(points)
			d := NewDecoder()
			var p Packet
			for i, b := range tt.frames {
				d.Decode(capture.Frame{Time: ts.Add(time.Duration(i) * time.Microsecond), Point: i, LinkType: capture.LinkSLL, Len: len(b), Data: b}, &p)
				tr.Add(&p)
			}
			if tt.kind == KindTCPConn {
				b := tt.frames[0] // the same SYN, a second later: retransmitted
				d.Decode(capture.Frame{Time: ts.Add(time.Second), Point: 0, LinkType: capture.LinkSLL, Len: len(b), Data: b}, &p)
				tr.Add(&p)
			}
			rep := tr.Report()
			if len(rep.Exchanges) != 1 || rep.Exchanges[0].Kind != tt.kind {
				t.Fatalf("%d exchanges %+v, want one %s", len(rep.Exchanges), rep.Exchanges, tt.kind)
			}
			ex := rep.Exchanges[0]
			if len(ex.Seen) < 3 {
				t.Fatalf("seen %+v, want 3 sightings at least", ex.Seen)
			}
			for _, s := range ex.Seen[:3] {
				if strings.Contains(s.What, "retransmission") {
					t.Errorf("the routed copy at %s is %q", s.Point, s.What)
				}
			}
			if tt.kind == KindTCPConn && (ex.Requests != 2 || len(ex.Seen) != 4 || !strings.Contains(ex.Seen[3].What, "retransmission")) {
				t.Errorf("requests %d, seen %+v: want the SYN a second later as its one retransmission", ex.Requests, ex.Seen)
			}
		})
	}
}
