package decode

import (
	"net"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/nsdump/nsdump/capture"
)

// cookedTCP is a Linux cooked frame holding a TCP segment from 10.1.0.1:40000
// to 10.2.0.1:7096 with the flags given.
func cookedTCP(t *testing.T, syn, ack bool) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 1, 0, 1), DstIP: net.IPv4(10, 2, 0, 1)}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 7096, Seq: 1000, SYN: syn, ACK: ack, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp); err != nil {
		t.Fatal(err)
	}
	return append([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00}, buf.Bytes()...)
}

// TestDropNotes: a SYN seen on B's interface and on B's drop point, with the
// kernel's reason, is one packet whose exchange says where and why it died
// (the reason only, not the verdict trace -w adds on the comment's next
// line); a comment on an ordinary point is no drop.
func TestDropNotes(t *testing.T) {
	points := []capture.Point{{Name: "B/veth1", LinkType: capture.LinkSLL}, {Name: "B/drops", LinkType: capture.LinkSLL}}
	tr := NewTracker(points)
	d := NewDecoder()
	var p Packet
	ts := time.Unix(1700000000, 0)
	syn := cookedTCP(t, true, false)
	for i, f := range []capture.Frame{
		{Time: ts, Point: 0, LinkType: capture.LinkSLL, Len: len(syn), Data: syn, Comment: "drop: NOT_A_DROP at nowhere (veth1)"},
		{Time: ts.Add(time.Microsecond), Point: 1, LinkType: capture.LinkSLL, Len: len(syn), Data: syn, Comment: "drop: NETFILTER_DROP at nft_do_chain (veth1)\nA->B tcp: dropped in B"},
	} {
		d.Decode(f, &p)
		if p.Comment != f.Comment {
			t.Fatalf("frame %d: comment %q, want %q", i, p.Comment, f.Comment)
		}
		tr.Add(&p)
	}
	ex := tr.Report().Exchanges
	if tr.Report().Packets != 1 || len(ex) != 1 {
		t.Fatalf("%d packets, %d exchanges: want the SYN once, in one exchange", tr.Report().Packets, len(ex))
	}
	notes := ex[0].DropNotes()
	want := "the SYN was dropped in B: NETFILTER_DROP at nft_do_chain (veth1)"
	if len(notes) != 1 || notes[0] != want {
		t.Fatalf("notes %q, want [%q]", notes, want)
	}
}

func TestPacketNoun(t *testing.T) {
	for _, tt := range []struct {
		kind       ExchangeKind
		what, want string
	}{
		{KindTCPConn, "[S]", "SYN"},
		{KindTCPConn, "[S.]", "SYN-ACK"},
		{KindTCPConn, "[P.]", "TCP segment [P.]"},
		{KindEcho, "request", "echo request"},
		{KindEcho6, "reply", "echo reply"},
		{KindARPRes, "who-has", "ARP request"},
		{KindICMPError, "port unreachable", "port unreachable"},
	} {
		if got := PacketNoun(tt.kind, tt.what); got != tt.want {
			t.Errorf("PacketNoun(%s, %s) = %q, want %q", tt.kind, tt.what, got, tt.want)
		}
	}
}
