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
	// Packets by Packet.Hash, in two generations of one sighting window
	// each: a packet is looked up in both and added to cur; when cur is a
	// window old, prev is emptied and the two swap. A packet is kept at
	// least a window, at most two, and forgetting costs no walk over the
	// map.
	cur, prev map[uint64]sighted
	since     int64 // when cur began, ns since the epoch
	next      uint64
}

type sighted struct {
	id     uint64
	time   int64     // of the first sighting, ns since the epoch
	points uint64    // capture points that saw it, as bits
	ex     *Exchange // the exchange it joined (the tracker's), nil: none
	order  uint64    // ex's, which a reused exchange no longer has
}

// of returns p's packet id, and whether p is a packet seen before at
// another capture point, with the exchange it joined then (setExchange).
// A packet with no hash (nothing nsdump can tell apart) is a packet of
// its own.
func (n *identity) of(p *Packet) (id uint64, ex *Exchange, again bool) {
	at := p.Time.UnixNano()
	n.rotate(at)
	n.next++
	if p.Hash == 0 {
		return n.next, nil, false
	}
	bit := uint64(1) << (uint(p.Point) & 63)
	s, ok := n.cur[p.Hash]
	if !ok {
		s, ok = n.prev[p.Hash]
	}
	if ok && s.again(at, bit) {
		n.next--
		s.points |= bit
		n.cur[p.Hash] = s
		if s.ex != nil && s.ex.order != s.order {
			return s.id, nil, true // its exchange was emitted, and reused
		}
		return s.id, s.ex, true
	}
	n.cur[p.Hash] = sighted{id: n.next, time: at, points: bit}
	return n.next, nil, false
}

// again is the rule: a packet of this hash seen at another capture point
// (bit) within the sighting window of its first sighting is this one.
func (s *sighted) again(at int64, bit uint64) bool {
	return s.points&bit == 0 && absDur(time.Duration(at-s.time)) <= sightingWindow
}

// setExchange records the exchange that the packet of hash h, just
// numbered by of, joined.
func (n *identity) setExchange(h uint64, ex *Exchange) {
	if s, ok := n.cur[h]; ok {
		s.ex, s.order = ex, ex.order
		n.cur[h] = s
	}
}

// rotate starts a new generation once cur is a sighting window old (of
// capture time: the latest packet's).
func (n *identity) rotate(at int64) {
	if n.cur == nil {
		n.cur, n.prev, n.since = map[uint64]sighted{}, map[uint64]sighted{}, at
	}
	if at-n.since < int64(sightingWindow) {
		return
	}
	clear(n.prev)
	n.cur, n.prev, n.since = n.prev, n.cur, at
}

// reset forgets every packet; the numbering goes on.
func (n *identity) reset() {
	clear(n.cur)
	clear(n.prev)
}

// PacketIDs gives frames their epb_packetid as they are written, in time
// order (capture's merge, trace's sorted frames): every sighting of one
// packet, a kernel drop's record of it included however much of it the
// record holds, gets the id of its first sighting, by identity's rule;
// `nsdump read` of the file joins exactly these. Not safe for concurrent
// use.
//
// It runs in capture's one loop for every frame of a flood, so it keeps
// packets in a fixed table of hash sets (two ways each) rather than a
// map: a lookup is one cache line, nothing to forget, no growth. A
// packet's entry is lost only when two later packets of its set come
// before its next sighting: with 32768 sets and sightings microseconds
// apart, not under any flood a veth carries.
type PacketIDs struct {
	d     Decoder
	p     Packet
	table []idSlot
	next  uint64
}

const (
	idSets = 1 << 15
	idWays = 2
)

type idSlot struct {
	hash uint64
	s    sighted
}

// NewPacketIDs starts numbering at 1.
func NewPacketIDs() *PacketIDs { return &PacketIDs{table: make([]idSlot, idSets*idWays)} }

// Mark sets f.PacketID, unless f has one already.
func (x *PacketIDs) Mark(f *capture.Frame) {
	if f.PacketID != 0 {
		return
	}
	x.d.Decode(*f, &x.p)
	x.next++
	f.PacketID = x.next
	h := x.p.Hash
	if h == 0 {
		return
	}
	at, bit := f.Time.UnixNano(), uint64(1)<<(uint(f.Point)&63)
	i := int(h>>1) & (idSets - 1) * idWays
	set := x.table[i : i+idWays]
	victim := &set[0]
	for j := range set {
		e := &set[j]
		if e.hash == h {
			if e.s.again(at, bit) {
				e.s.points |= bit
				x.next--
				f.PacketID = e.s.id
				return
			}
			victim = e // a new packet of this hash replaces the old
			break
		}
		if e.hash == 0 || e.s.time < victim.s.time && victim.hash != 0 {
			victim = e
		}
	}
	*victim = idSlot{hash: h, s: sighted{id: x.next, time: at, points: bit}}
}
