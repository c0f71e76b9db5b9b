package decode

import (
	"time"

	"github.com/nsdump/nsdump/capture"
)

// identity numbers packets as the tracker joins their sightings: the same
// network-layer bytes (Packet.Hash: TTL, checksum and how much was
// captured aside) at another capture point within sightingWindow of the
// first sighting is the same packet seen again. Writers put the numbers in
// pcapng's epb_packetid (PacketIDs), so Wireshark follows a packet across
// capture points by frame.packet_id; read takes a file's ids as they are
// and numbers packets this way only in files that have none.
type identity struct {
	seen  map[uint64]sighted // by Packet.Hash
	next  uint64
	now   int64 // the latest packet time, ns since the epoch
	swept int64
}

type sighted struct {
	id     uint64
	time   int64  // of the first sighting, ns since the epoch
	points uint64 // capture points that saw it, as bits
}

// of returns p's packet id, and whether p is a packet seen before at
// another capture point. A packet with no hash (nothing nsdump can tell
// apart) is a packet of its own.
func (n *identity) of(p *Packet) (id uint64, again bool) {
	if n.seen == nil {
		n.seen = map[uint64]sighted{}
	}
	at := p.Time.UnixNano()
	n.now = max(n.now, at)
	n.sweep()
	n.next++
	if p.Hash == 0 {
		return n.next, false
	}
	bit := uint64(1) << (uint(p.Point) & 63)
	s, ok := n.seen[p.Hash]
	if ok && s.points&bit == 0 && absDur(time.Duration(at-s.time)) <= sightingWindow {
		n.next--
		s.points |= bit
		n.seen[p.Hash] = s
		return s.id, true
	}
	n.seen[p.Hash] = sighted{id: n.next, time: at, points: bit}
	return n.next, false
}

// sweep forgets packets older than the sighting window, once a window of
// capture time: a writer under a flood holds two windows of packets.
func (n *identity) sweep() {
	if n.now-n.swept < int64(sightingWindow) {
		return
	}
	n.swept = n.now
	for h, s := range n.seen {
		if n.now-s.time > int64(sightingWindow) {
			delete(n.seen, h)
		}
	}
}

// reset forgets every packet; the numbering goes on.
func (n *identity) reset() { clear(n.seen) }

// PacketIDs gives frames their epb_packetid as they are written, in time
// order (capture's merge, trace's sorted frames): every sighting of one
// packet, a kernel drop's record of it included however much of it the
// record holds, gets the id of its first sighting; `nsdump read` of the
// file joins exactly these. Not safe for concurrent use.
type PacketIDs struct {
	d  Decoder
	p  Packet
	id identity
}

// NewPacketIDs starts numbering at 1.
func NewPacketIDs() *PacketIDs { return &PacketIDs{} }

// Mark sets f.PacketID, unless f has one already.
func (x *PacketIDs) Mark(f *capture.Frame) {
	if f.PacketID != 0 {
		return
	}
	x.d.Decode(*f, &x.p)
	f.PacketID, _ = x.id.of(&x.p)
}

// Last is the highest id given so far.
func (x *PacketIDs) Last() uint64 { return x.id.next }
