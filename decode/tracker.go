package decode

import (
	"net/netip"
	"sort"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// sightingWindow is how close in time the same bytes at two capture points
// count as one packet seen twice.
const sightingWindow = 200 * time.Millisecond

// DefaultIdle finishes an exchange that saw no packet for this long of
// capture time: nothing can answer it any more.
const DefaultIdle = 60 * time.Second

// DefaultMaxOpen bounds the exchanges open at once (a SYN flood opens one
// per packet); past it the least recently active one is finished early.
// About 700 bytes each: 20,000 keep read within 64 MiB.
const DefaultMaxOpen = 20000

// linger keeps a finished exchange one sighting window longer, for the same
// packets seen at other capture points and a connection's last ACK.
const linger = sightingWindow

// recent is a packet of a file with ids counted in the last sighting
// window, and the exchange it joined (nil: none).
type recent struct {
	ex    *Exchange
	order uint64 // ex's, which a reused exchange no longer has
	time  int64  // ns since the epoch
}

// fileID is a packet's id in the file it came from (epb_packetid): each
// file's ids are its own.
type fileID struct {
	id   uint64
	file uint32
}

// Tracker groups packets into exchanges, as tshark follows conversations:
// a TCP attempt is the client's 4-tuple and ISN, and every SYN with that
// ISN belongs to it, before or after the answer. Finished exchanges leave
// its tables. Without Emit all of them stay, in the order they began, for
// Report; with Emit each is handed over once finished (or idle), so memory
// follows the open exchanges, not the capture.
type Tracker struct {
	Points []capture.Point
	// Comments are the section comments of the files read, in order: what
	// a `nsdump trace -w` file recorded (its verdicts).
	Comments []string
	// Custom are the pcapng Custom Blocks of the files read, in order:
	// where a `nsdump trace -w` file keeps the facts it judged.
	Custom []capture.CustomBlock
	// Emit, if set, receives every selected exchange once nothing more can
	// join it; Flush hands over the rest.
	Emit func(*Exchange)
	// Idle finishes an exchange after this much capture time without a
	// packet (0: DefaultIdle). MaxOpen bounds the open exchanges (0:
	// DefaultMaxOpen).
	Idle    time.Duration
	MaxOpen int
	// Sightings is how many sightings each exchange keeps (0:
	// MaxSightings): a trace across 8 namespaces sees a request and its
	// answer 28 times.
	Sightings int
	// Reuse says Emit keeps no exchange after it returns (it keeps a
	// Clone): the tracker then makes new exchanges of emitted ones, so a
	// flood of short exchanges costs no garbage collection. Src and Dst
	// of an emitted exchange are then empty; Clone and AppendJSON fill
	// them from SrcAddr, SrcPort, DstAddr and DstPort.
	Reuse bool
	// Dropped, if not nil, is called with every matched packet on a drop
	// monitor's point: its point's name and the kernel's word on it
	// ("REASON at LOCATION (IFACE)"), and the probe a trace -w file ties
	// it to (or ""), so that drops can be told apart by who made them.
	Dropped func(point string, drop capture.Drop, probe string)

	packets  int
	drops    int
	evicted  int
	filtered bool // some packet did not match the filter
	order    uint64
	all      []*Exchange
	done     []*Exchange // finished, waiting out the linger
	doneHead int
	echo     *table
	tcp      *table
	udp      *table
	arp      *table
	ndp      *table
	seen     map[fileID]recent // packets of files with ids
	ids      identity          // numbers packets of files without ids
	file     uint32            // the file being read: its packet ids are its own
	first    *Exchange         // the open list: least recently active first
	tail     *Exchange
	nopen    int
	now      int64 // latest packet time, ns since the epoch
	swept    int64
	isDrop   []bool      // per capture point: a drop monitor's (NS/drops)
	free     []*Exchange // emitted, for start to reuse (Reuse)
}

// maxFree bounds the emitted exchanges kept for reuse.
const maxFree = 256

// NewTracker starts an empty tracker; points name the capture points that
// Packet.Point indexes.
func NewTracker(points []capture.Point) *Tracker {
	return &Tracker{
		Points: points,
		echo:   newTable(), tcp: newTable(), udp: newTable(), arp: newTable(), ndp: newTable(),
		seen: map[fileID]recent{},
	}
}

// Packets is how many packets were added (and matched the filter), each
// sighting counted once.
func (t *Tracker) Packets() int { return t.packets }

// Drops is how many of those packets were on a drop monitor's capture
// point (NS/drops).
func (t *Tracker) Drops() int { return t.drops }

// Evicted is how many exchanges were finished early because more than
// MaxOpen were open at once.
func (t *Tracker) Evicted() int { return t.evicted }

// Exchanges returns every selected exchange in the order it began.
func (t *Tracker) Exchanges() []*Exchange {
	if !t.filtered {
		for _, ex := range t.all {
			ex.named()
		}
		return t.all
	}
	var sel []*Exchange
	for _, ex := range t.all {
		if ex.selected {
			sel = append(sel, ex.named())
		}
	}
	return sel
}

// Add takes one decoded packet.
func (t *Tracker) Add(p *Packet) { t.AddMatched(p, true) }

// AddMatched takes one decoded packet and whether it matched the filter:
// every packet joins its exchange, and an exchange is selected when any
// of its packets matched.
func (t *Tracker) AddMatched(p *Packet, match bool) {
	if ns := p.Time.UnixNano(); ns > t.now {
		t.now = ns
	}
	if !match {
		t.filtered = true
	}
	if t.dropPoint(p.Point) {
		if p.Drop.IsZero() {
			// A file's drop is its packet's comment.
			p.Drop, _ = capture.ParseDropComment(p.Comment)
		}
		if match {
			t.drops++ // every drop counts, even of a packet seen before it was dropped
			if t.Dropped != nil {
				t.Dropped(t.Points[p.Point].Name, p.Drop, probeOf(p.Comment))
			}
		}
	}
	fromFile := p.PacketID != 0
	ex, dup := t.sighting(p)
	if dup {
		if ex != nil {
			ex.see(p, t.Points, ex.describe(p))
			ex.selected = ex.selected || match
			t.touch(ex)
		}
		return
	}
	if match {
		t.packets++
	}
	switch {
	case p.Kind == KindARP:
		ex = t.addARP(p)
	case p.Kind == KindICMP6 && p.ICMPType == 135 && p.Src.IsUnspecified():
		// Duplicate address detection: silence is its success, not a failed resolution.
	case p.Kind == KindICMP6 && (p.ICMPType == 135 || p.ICMPType == 136):
		ex = t.addNDP(p)
	case p.ICMPError():
		ex = t.addICMPError(p)
	case p.Kind == KindICMP4 || p.Kind == KindICMP6:
		ex = t.addEcho(p)
	case p.Kind == KindTCP && (!p.Truncated || p.Malformed == ""):
		ex = t.addTCP(p)
	case p.Kind == KindUDP && !p.Frag:
		ex = t.addUDP(p)
	}
	if ex != nil {
		ex.selected = ex.selected || match
		t.touch(ex)
	}
	t.joined(p, ex, fromFile)
	t.sweep()
	t.expire()
	t.emitDone()
}

// dropPoint reports whether capture point i is a drop monitor's.
func (t *Tracker) dropPoint(i int) bool {
	if len(t.isDrop) != len(t.Points) {
		t.isDrop = t.isDrop[:0]
		for _, pt := range t.Points {
			_, drops := capture.DropsNamespace(pt.Name)
			t.isDrop = append(t.isDrop, drops)
		}
	}
	return i >= 0 && i < len(t.isDrop) && t.isDrop[i]
}

// finish marks an exchange complete; with Emit it is handed over after
// the linger.
func (t *Tracker) finish(ex *Exchange) {
	if ex.open {
		t.unlink(ex)
	}
	if ex.finished {
		return
	}
	ex.finished = true
	if t.Emit != nil {
		t.done = append(t.done, ex)
	}
}

// emitDone hands over finished exchanges whose linger has passed, and the
// oldest while more than maxLingering wait. The queue is consumed from
// doneHead and compacted only when half of it is spent.
func (t *Tracker) emitDone() {
	most := t.maxLingering()
	for t.doneHead < len(t.done) && (t.now-t.done[t.doneHead].last > int64(linger) || len(t.done)-t.doneHead > most) {
		t.release(t.done[t.doneHead])
		t.done[t.doneHead] = nil
		t.doneHead++
	}
	if t.doneHead > 1024 && t.doneHead > len(t.done)/2 {
		t.done = append(t.done[:0], t.done[t.doneHead:]...)
		t.doneHead = 0
	}
}

func (t *Tracker) release(ex *Exchange) {
	t.forget(ex)
	if ex.selected {
		t.emit(ex)
	}
	if t.Reuse && len(t.free) < maxFree {
		t.free = append(t.free, ex)
	}
}

// emit hands ex to Emit; with Reuse, Src and Dst stay empty until a Clone
// or AppendJSON (a flood's million exchanges spent a sixth of reading on
// the strings, for the 200 the report lists).
func (t *Tracker) emit(ex *Exchange) {
	if !t.Reuse {
		ex.named()
	}
	t.Emit(ex)
}

// Flush hands every exchange not yet emitted to Emit, in the order they
// began. Without Emit it does nothing: Report has them all.
func (t *Tracker) Flush() {
	if t.Emit == nil {
		return
	}
	rest := append([]*Exchange(nil), t.done[t.doneHead:]...)
	for ex := t.first; ex != nil; ex = ex.next {
		rest = append(rest, ex)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].order < rest[j].order })
	for _, ex := range rest {
		if ex.selected {
			t.emit(ex)
		}
	}
	t.done, t.doneHead = nil, 0
	t.first, t.tail, t.nopen = nil, nil, 0
	t.echo.clear()
	t.tcp.clear()
	t.udp.clear()
	t.arp.clear()
	t.ndp.clear()
	clear(t.seen)
	t.ids.reset()
}

// sighting reports whether p is a packet already counted, seen now at
// another capture point (or dropped by the kernel), with the exchange it
// joined. A file's packet ids decide when it has them; otherwise identity
// numbers packets, as writers do. p.PacketID is set to the id, for its
// sighting.
func (t *Tracker) sighting(p *Packet) (*Exchange, bool) {
	switch {
	case p.PacketID != 0:
		r, ok := t.seen[fileID{p.PacketID, t.file}]
		if ok && r.ex != nil && r.ex.order != r.order {
			return nil, true // its exchange was emitted, and reused
		}
		return r.ex, ok
	case p.Hash != 0 && len(t.Points) > 1:
		id, ex, again := t.ids.of(p)
		p.PacketID = id
		return ex, again
	}
	return nil, false
}

// joined records the exchange a packet counted for the first time joined
// (nil: none), for its other sightings: under the file's id, or beside
// the number identity gave it.
func (t *Tracker) joined(p *Packet, ex *Exchange, fromFile bool) {
	switch {
	case fromFile:
		r := recent{ex: ex, time: p.Time.UnixNano()}
		if ex != nil {
			r.order = ex.order
		}
		t.seen[fileID{p.PacketID, t.file}] = r
	case p.PacketID != 0 && ex != nil:
		t.ids.setExchange(p.Hash, ex)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// sweep forgets packets older than the sighting window, once a second of
// capture time.
func (t *Tracker) sweep() {
	if t.now-t.swept < int64(time.Second) {
		return
	}
	t.swept = t.now
	for k, r := range t.seen {
		if t.now-r.time > int64(sightingWindow) {
			delete(t.seen, k)
		}
	}
}

func (t *Tracker) start(p *Packet, kind ExchangeKind, src, dst netip.AddrPort, ports bool) *Exchange {
	t.order++
	var ex *Exchange
	if n := len(t.free); n > 0 {
		ex, t.free = t.free[n-1], t.free[:n-1]
		ex.reset()
	} else {
		ex = &Exchange{Seen: make([]Sighting, 0, 2)}
	}
	ex.Kind, ex.Start, ex.last, ex.order, ex.keep = kind, p.Time, p.Time.UnixNano(), t.order, t.Sightings
	ex.setEnds(src, dst, ports)
	if t.Emit == nil {
		t.all = append(t.all, ex)
	}
	t.push(ex)
	return ex
}

func addrs(src, dst netip.Addr) (netip.AddrPort, netip.AddrPort) {
	return netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
}

func (t *Tracker) addEcho(p *Packet) *Exchange {
	req, rep := p.Echo()
	kind := KindEcho
	if p.Kind == KindICMP6 {
		kind = KindEcho6
	}
	switch {
	case req:
		k := mkEchoKey(p.Src, p.Dst, p.ID, p.Seq)
		ex, h := t.echo.lookup(k)
		if ex == nil {
			src, dst := addrs(p.Src, p.Dst)
			ex = t.start(p, kind, src, dst, false)
			ex.Status, ex.req, ex.key = StatusUnanswered, p.Time, k
			ex.setEcho(p.ID, p.Seq)
			t.put(t.echo, ex, h)
		}
		ex.Requests++
		ex.see(p, t.Points, "request")
		return ex
	case rep:
		k := mkEchoKey(p.Dst, p.Src, p.ID, p.Seq)
		ex := t.echo.get(k)
		if ex == nil {
			src, dst := addrs(p.Dst, p.Src)
			ex = t.start(p, kind, src, dst, false)
			ex.setEcho(p.ID, p.Seq)
		} else if ex.Status != StatusAnswered && !p.NoTime {
			ex.setRTT(p.Time.Sub(ex.req))
		}
		ex.Status = StatusAnswered
		t.remove(t.echo, ex)
		ex.see(p, t.Points, "reply")
		t.finish(ex)
		return ex
	}
	return nil
}

func (t *Tracker) addTCP(p *Packet) *Exchange {
	src, dst := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	syn, ack, rst, fin := p.Flags&SYN != 0, p.Flags&ACK != 0, p.Flags&RST != 0, p.Flags&FIN != 0
	if syn && !ack {
		return t.addSYN(p, src, dst)
	}
	ex, h := t.tcp.lookup(mkTCPKey(src, dst))
	toServer := true
	if ex == nil {
		ex, toServer = t.tcp.get(mkTCPKey(dst, src)), false
	}
	if ex == nil {
		if rst {
			return nil // a reset for a connection we never saw open
		}
		ex = t.start(p, KindTCPConn, src, dst, true)
		ex.Status, ex.state, ex.Close, ex.key = StatusEstablished, tcpEstablished, "open", mkTCPKey(src, dst)
		toServer = true // the sender of the first packet seen plays the client
		ex.setTCP(false)
		t.put(t.tcp, ex, h)
	}
	what := tcpFlags(p.Flags)
	switch {
	case !toServer && syn && ack && ex.state == tcpSyn:
		ex.state, ex.SynAckSeen = tcpSynAck, true
		if !p.NoTime {
			ex.setRTT(p.Time.Sub(ex.req))
		}
	case !toServer && rst && ex.state <= tcpSynAck:
		// Refused. It stays open until idle: a client that sends the same
		// SYN again after each reset (Windows does) makes one refused
		// attempt with retries, as tshark sees it.
		ex.Status, ex.state, ex.Close = StatusRefused, tcpClosed, "rst"
	case toServer && ack && ex.state == tcpSynAck:
		ex.Status, ex.state = StatusEstablished, tcpEstablished
	}
	if ex.state == tcpEstablished || ex.state == tcpClosed && ex.Status == StatusEstablished {
		t.established(ex, p, toServer, rst, fin)
	}
	ex.see(p, t.Points, what)
	return ex
}

// addSYN starts a connection attempt, or adds a retransmission to the one
// with the same client 4-tuple and ISN, whatever state it reached.
func (t *Tracker) addSYN(p *Packet, src, dst netip.AddrPort) *Exchange {
	k := mkTCPKey(src, dst)
	ex, h := t.tcp.lookup(k)
	if ex != nil && ex.ISN != nil && *ex.ISN == p.TCPSeq {
		ex.Requests++
		ex.see(p, t.Points, "[S] (retransmission)")
		return ex
	}
	if ex != nil {
		t.remove(t.tcp, ex)
		t.finish(ex) // a new attempt on the same 4-tuple
	}
	ex = t.start(p, KindTCPConn, src, dst, true)
	ex.Status, ex.Requests, ex.req, ex.Close, ex.key = StatusUnanswered, 1, p.Time, "open", k
	ex.setTCP(true)
	ex.vals.isn, ex.ISN = p.TCPSeq, &ex.vals.isn
	t.put(t.tcp, ex, h)
	ex.see(p, t.Points, "[S]")
	return ex
}

// established counts the bytes of an established connection and how it
// closes.
func (t *Tracker) established(ex *Exchange, p *Packet, toServer, rst, fin bool) {
	if toServer {
		*ex.BytesToServer += p.PayloadLen
	} else {
		*ex.BytesToClient += p.PayloadLen
	}
	switch {
	case rst:
		ex.Close, ex.state = "rst", tcpClosed
		t.finish(ex)
	case fin && ex.Close != "rst":
		ex.Close = "fin"
		if toServer {
			ex.fins |= 1
		} else {
			ex.fins |= 2
		}
		if ex.fins == 3 {
			t.finish(ex) // the last ACK still joins during the linger
		}
	}
}

func (t *Tracker) addARP(p *Packet) *Exchange {
	switch p.ARPOp {
	case 1:
		return t.ask(t.arp, KindARPRes, p.ARPSender, p.ARPTarget, p, "who-has")
	case 2:
		ex := t.answer(t.arp, KindARPRes, p.ARPTarget, p.ARPSender, p, "is-at")
		ex.Answer = macString(p.SenderMAC)
		return ex
	}
	return nil
}

func (t *Tracker) addNDP(p *Packet) *Exchange {
	if p.ICMPType == 135 {
		return t.ask(t.ndp, KindNDP, p.Src, p.NDTarget, p, "neighbor solicitation")
	}
	return t.answer(t.ndp, KindNDP, p.Dst, p.NDTarget, p, "neighbor advertisement")
}

// ask records a resolution request (ARP who-has, neighbour solicitation);
// a retry before any answer joins the same exchange.
func (t *Tracker) ask(m *table, kind ExchangeKind, requester, target netip.Addr, p *Packet, what string) *Exchange {
	k := mkResKey(requester, target)
	ex, h := m.lookup(k)
	if ex == nil {
		src, dst := addrs(requester, target)
		ex = t.start(p, kind, src, dst, false)
		ex.Status, ex.req, ex.key = StatusUnanswered, p.Time, k
		t.put(m, ex, h)
	}
	ex.Requests++
	ex.see(p, t.Points, what)
	return ex
}

// answer closes the resolution it answers, or records an unsolicited one.
func (t *Tracker) answer(m *table, kind ExchangeKind, requester, target netip.Addr, p *Packet, what string) *Exchange {
	k := mkResKey(requester, target)
	ex := m.get(k)
	if ex == nil {
		src, dst := addrs(requester, target)
		ex = t.start(p, kind, src, dst, false)
	} else if !p.NoTime {
		ex.setRTT(p.Time.Sub(ex.req))
	}
	t.remove(m, ex)
	ex.Status = StatusAnswered
	ex.see(p, t.Points, what)
	t.finish(ex)
	return ex
}

// addICMPError attaches an ICMP error to the exchange whose packet it
// quotes, or records it on its own.
func (t *Tracker) addICMPError(p *Packet) *Exchange {
	q := p.Quote
	e := ICMPErr{From: p.Src.String(), Type: p.ICMPType, Code: p.ICMPCode, Text: icmpText(p.Kind, p.ICMPType, p.ICMPCode)}
	var ex *Exchange
	if q.Valid {
		switch {
		case q.Proto == 1 && q.ICMPType == 8, q.Proto == 58 && q.ICMPType == 128:
			ex = t.echo.get(mkEchoKey(q.Src, q.Dst, q.ID, q.Seq))
		case q.Proto == 6:
			qs, qd := netip.AddrPortFrom(q.Src, q.SrcPort), netip.AddrPortFrom(q.Dst, q.DstPort)
			if ex = t.tcp.get(mkTCPKey(qs, qd)); ex == nil {
				ex = t.tcp.get(mkTCPKey(qd, qs)) // the server's packet: a SYN-ACK dropped on the way back
			}
		case q.Proto == 17:
			ex = t.udp.get(mkUDPKey(netip.AddrPortFrom(q.Src, q.SrcPort), netip.AddrPortFrom(q.Dst, q.DstPort)))
		}
	}
	if ex == nil {
		src, dst := addrs(p.Src, p.Dst)
		ports := false
		if q.Valid {
			src, dst = netip.AddrPortFrom(q.Src, q.SrcPort), netip.AddrPortFrom(q.Dst, q.DstPort)
			ports = q.Proto == 6 || q.Proto == 17
		}
		ex = t.start(p, KindICMPError, src, dst, ports)
		if quotesEcho(q) {
			// An echo reply's exchange ended when the reply was first
			// seen: the echo's id and sequence still tell whose it is.
			ex.setEcho(q.ID, q.Seq)
		}
	}
	ex.Status = StatusError
	ex.Errors = append(ex.Errors, e)
	ex.see(p, t.Points, e.Text)
	if ex.Kind == KindICMPError {
		t.finish(ex)
	}
	return ex
}

// quotesEcho reports whether an ICMP error quotes an echo request or reply.
func quotesEcho(q Quote) bool {
	return q.Valid && (q.Proto == 1 && (q.ICMPType == 0 || q.ICMPType == 8) || q.Proto == 58 && (q.ICMPType == 128 || q.ICMPType == 129))
}

func macString(m [6]byte) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[c>>4], hexdigits[c&0xf])
	}
	return string(b)
}
