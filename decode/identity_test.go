package decode

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// echoFrame is an Ethernet frame holding an IPv4 ICMP echo request or
// reply of size bytes (IP header included) from src to dst.
func echoFrame(size int, reply bool, src, dst [4]byte, ttl uint8) []byte {
	b := make([]byte, 14+size)
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(size))
	binary.BigEndian.PutUint16(ip[4:], 0x1234)
	ip[6], ip[8], ip[9] = 0x40, ttl, 1
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	icmp := ip[20:]
	if !reply {
		icmp[0] = 8
	}
	binary.BigEndian.PutUint16(icmp[4:], 77) // id
	binary.BigEndian.PutUint16(icmp[6:], 1)  // seq
	return b
}

var (
	addrA = [4]byte{10, 0, 1, 1}
	addrB = [4]byte{10, 0, 2, 1}
)

// mtuEcho is the journey of one 1500-byte echo and its reply between
// a/veth0 and b/veth1, and the kernel's record of dropping the reply in
// a, which holds its first 128 bytes (drops.Record's head).
func mtuEcho() ([]capture.Point, []capture.Frame) {
	points := []capture.Point{{Name: "a/veth0"}, {Name: "b/veth1"}, {Name: "a/drops"}}
	t0 := time.Unix(1700000000, 0)
	req, rep := echoFrame(1500, false, addrA, addrB, 64), echoFrame(1500, true, addrB, addrA, 64)
	at := func(us int, point int, dir capture.Direction, data []byte, comment string) capture.Frame {
		return capture.Frame{Time: t0.Add(time.Duration(us) * time.Microsecond), Point: point, LinkType: capture.LinkEthernet,
			Dir: dir, Len: len(data), Data: data, Comment: comment}
	}
	cut := at(60, 2, capture.DirIn, rep[:14+128], "drop: NO_SOCKET at ping_rcv (veth0)")
	cut.Len = len(rep)
	return points, []capture.Frame{
		at(0, 0, capture.DirOut, req, ""),
		at(10, 1, capture.DirIn, req, ""),
		at(30, 1, capture.DirOut, rep, ""),
		at(50, 0, capture.DirIn, rep, ""),
		cut,
	}
}

// TestCutDropRecordJoinsItsPacket: a 1500-byte echo reply the kernel
// dropped after it was seen, recorded with only its first 128 bytes, is
// the reply seen again, not a second exchange: one exchange, two packets,
// one drop, and the writer gives the record the reply's packet id.
func TestCutDropRecordJoinsItsPacket(t *testing.T) {
	points, frames := mtuEcho()
	ids := NewPacketIDs()
	var got []uint64
	for i := range frames {
		ids.Mark(&frames[i])
		got = append(got, frames[i].PacketID)
	}
	if want := []uint64{1, 1, 2, 2, 2}; !equalIDs(got, want) {
		t.Errorf("packet ids %v, want %v", got, want)
	}
	for _, withIDs := range []bool{true, false} {
		tr := NewTracker(points)
		d := NewDecoder()
		for _, f := range frames {
			if !withIDs {
				f.PacketID = 0
			}
			var p Packet
			d.Decode(f, &p)
			tr.Add(&p)
		}
		ex := tr.Exchanges()
		if len(ex) != 1 || ex[0].Status != StatusAnswered || tr.Packets() != 2 || tr.Drops() != 1 {
			t.Fatalf("ids in file %v: %d exchanges, %d packets, %d drops; want one answered exchange, 2 packets, 1 drop", withIDs, len(ex), tr.Packets(), tr.Drops())
		}
		var seenIDs []uint64
		for _, s := range ex[0].Seen {
			seenIDs = append(seenIDs, s.PacketID)
		}
		if want := []uint64{1, 1, 2, 2, 2}; !equalIDs(seenIDs, want) || ex[0].Seen[4].Drop.IsZero() {
			t.Errorf("ids in file %v: sightings' ids %v (last drop %q), want %v and a drop", withIDs, seenIDs, ex[0].Seen[4].Drop, want)
		}
	}
}

// TestFileIDsDecide: a file's packet ids are taken as they are: two
// sightings whose bytes differ (a translated address) but whose ids agree
// are one packet, and the same bytes at two points with two ids are two.
func TestFileIDsDecide(t *testing.T) {
	points := []capture.Point{{Name: "a/eth0"}, {Name: "r/eth1"}}
	t0 := time.Unix(1700000000, 0)
	natted := echoFrame(84, false, [4]byte{192, 0, 2, 1}, addrB, 63)
	frames := []capture.Frame{
		{Time: t0, Point: 0, Data: echoFrame(84, false, addrA, addrB, 64), PacketID: 9},
		{Time: t0.Add(time.Microsecond), Point: 1, Data: natted, PacketID: 9},
		{Time: t0.Add(2 * time.Microsecond), Point: 0, Data: echoFrame(84, true, addrB, addrA, 64), PacketID: 10},
		{Time: t0.Add(3 * time.Microsecond), Point: 1, Data: echoFrame(84, true, addrB, addrA, 64), PacketID: 11},
	}
	tr := NewTracker(points)
	d := NewDecoder()
	for _, f := range frames {
		f.LinkType, f.Len = capture.LinkEthernet, len(f.Data)
		var p Packet
		d.Decode(f, &p)
		tr.Add(&p)
	}
	if tr.Packets() != 3 {
		t.Errorf("%d packets, want 3: ids 9 (twice), 10 and 11", tr.Packets())
	}
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BenchmarkPacketIDs is what `capture -w` pays per frame for its packet
// ids: a decode and a map lookup, each packet seen at two points, time
// moving on so that the sweep runs as it would.
func BenchmarkPacketIDs(b *testing.B) {
	ids := NewPacketIDs()
	t0 := time.Unix(1700000000, 0)
	req := echoFrame(84, false, addrA, addrB, 64)
	f := capture.Frame{LinkType: capture.LinkEthernet, Len: len(req), Data: req}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// A new packet (IP id, echo seq) every 2 µs, each seen at two
		// points 1 µs apart.
		binary.BigEndian.PutUint16(req[14+4:], uint16(i/2))
		binary.BigEndian.PutUint16(req[14+20+6:], uint16(i>>17))
		f.Point, f.PacketID = i%2, 0
		f.Time = t0.Add(time.Duration(i) * time.Microsecond)
		ids.Mark(&f)
	}
}

// TestForwardedPacketKeepsItsID: a router's forwarding (TTL less one, a
// new checksum) leaves the packet's id as it was; the same bytes again at
// a point that saw them already, or after the sighting window, are a new
// packet.
func TestForwardedPacketKeepsItsID(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	hop := func(ttl uint8) []byte {
		b := echoFrame(84, false, addrA, addrB, ttl)
		b[14+10], b[14+11] = ttl, 0x5a // a checksum that changes with the TTL
		return b
	}
	cases := []struct {
		point int
		us    int
		ttl   uint8
		want  uint64
	}{
		{0, 0, 64, 1},      // A/veth0 Out
		{1, 5, 64, 1},      // R/r0 In
		{2, 9, 63, 1},      // R/r1 Out
		{3, 12, 63, 1},     // B/veth1 In
		{3, 20, 63, 2},     // B/veth1 again: a copy, not the same sighting
		{0, 300000, 64, 3}, // A/veth0 300 ms later: a retransmission
	}
	ids := NewPacketIDs()
	for i, c := range cases {
		data := hop(c.ttl)
		f := capture.Frame{Time: t0.Add(time.Duration(c.us) * time.Microsecond), Point: c.point, LinkType: capture.LinkEthernet, Len: len(data), Data: data}
		ids.Mark(&f)
		if f.PacketID != c.want {
			t.Errorf("sighting %d (point %d, TTL %d, %d µs): id %d, want %d", i, c.point, c.ttl, c.us, f.PacketID, c.want)
		}
	}
}

// TestWriterAndReaderAgree: the writer's table (PacketIDs) and read's
// numbering (identity) group the same sightings into the same packets,
// over 200,000 frames: echoes seen at up to four points microseconds
// apart, some sent again with the same bytes within and past the window.
func TestWriterAndReaderAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var frames []capture.Frame
	t0 := time.Unix(1700000000, 0)
	for i := 0; len(frames) < 200000; i++ {
		data := echoFrame(84, i%2 == 1, addrA, addrB, 64)
		binary.BigEndian.PutUint16(data[14+4:], uint16(i))
		binary.BigEndian.PutUint16(data[14+20+6:], uint16(i>>16))
		at := t0.Add(time.Duration(i) * 3 * time.Microsecond)
		for p := range 1 + rng.IntN(4) {
			frames = append(frames, capture.Frame{Time: at.Add(time.Duration(p) * time.Microsecond), Point: p, LinkType: capture.LinkEthernet, Len: len(data), Data: data})
		}
		if rng.IntN(50) == 0 { // the same bytes again, 1 ms or 300 ms later
			later := time.Millisecond
			if rng.IntN(2) == 0 {
				later = 300 * time.Millisecond
			}
			frames = append(frames, capture.Frame{Time: at.Add(later), Point: rng.IntN(4), LinkType: capture.LinkEthernet, Len: len(data), Data: data})
		}
	}
	slices.SortStableFunc(frames, func(a, b capture.Frame) int { return a.Time.Compare(b.Time) })
	ids := NewPacketIDs()
	var n identity
	d := NewDecoder()
	var p Packet
	writer, reader := map[uint64]uint64{}, map[uint64]uint64{}
	for i := range frames {
		f := frames[i]
		ids.Mark(&f)
		d.Decode(frames[i], &p)
		id, _, _ := n.of(&p)
		// The two number alike: each id of one maps to one id of the other.
		if w, ok := writer[f.PacketID]; ok && w != id || reader[id] != 0 && reader[id] != f.PacketID {
			t.Fatalf("frame %d (point %d, %v): writer id %d, read id %d; they disagree", i, f.Point, f.Time, f.PacketID, id)
		}
		writer[f.PacketID], reader[id] = id, f.PacketID
	}
	if len(writer) == len(frames) || len(writer) < 50000 {
		t.Fatalf("%d packets in %d frames: the sightings did not join", len(writer), len(frames))
	}
}
