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

// expireAfter removes an exchange from the lookup tables once nothing has
// happened to it for this long; it stays in the report.
const expireAfter = 2 * time.Minute

// linger keeps a finished exchange one sighting window longer, for the same
// packets seen at other capture points and a connection's last ACK.
const linger = sightingWindow

type recent struct {
	ex     *Exchange
	time   int64  // ns since the epoch
	points uint64 // capture points that saw it, as bits
}

// Tracker groups packets into exchanges. Finished exchanges leave its
// tables. Without Emit all of them stay, in the order they began, for
// Report; with Emit each is handed over once finished (or idle for
// expireAfter), so memory follows the live exchanges, not the capture.
type Tracker struct {
	Points []capture.Point
	// Emit, if set, receives every exchange once nothing more can join it;
	// Flush hands over the rest.
	Emit func(*Exchange)

	packets  int
	order    uint64
	all      []*Exchange
	done     []*Exchange // finished, waiting out the linger
	doneHead int
	echo     map[echoKey]*Exchange
	tcp      map[tcpKey]*Exchange
	arp      map[resKey]*Exchange
	ndp      map[resKey]*Exchange
	seen     map[uint64]recent
	now      int64 // latest packet time, ns since the epoch
	swept    int64
}

// NewTracker starts an empty tracker; points name the capture points that
// Packet.Point indexes.
func NewTracker(points []capture.Point) *Tracker {
	return &Tracker{
		Points: points,
		echo:   map[echoKey]*Exchange{}, tcp: map[tcpKey]*Exchange{},
		arp: map[resKey]*Exchange{}, ndp: map[resKey]*Exchange{},
		seen: map[uint64]recent{},
	}
}

// Packets is how many packets were added, each sighting counted once.
func (t *Tracker) Packets() int { return t.packets }

// Exchanges returns every exchange in the order it began.
func (t *Tracker) Exchanges() []*Exchange { return t.all }

// Add takes one decoded packet.
func (t *Tracker) Add(p *Packet) {
	if ns := p.Time.UnixNano(); ns > t.now {
		t.now = ns
	}
	if ex, dup := t.sighting(p); dup {
		if ex != nil {
			ex.see(p, t.Points, describe(p))
		}
		return
	}
	t.packets++
	var ex *Exchange
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
	}
	if ex != nil && p.Hash != 0 && len(t.Points) > 1 {
		r := t.seen[p.Hash]
		r.ex, r.time, r.points = ex, p.Time.UnixNano(), 1<<(uint(p.Point)&63)
		t.seen[p.Hash] = r
	}
	t.sweep()
	t.emitDone()
}

// finish marks an exchange complete; it is emitted after the linger.
func (t *Tracker) finish(ex *Exchange) {
	if t.Emit == nil || ex.finished {
		return
	}
	ex.finished = true
	t.done = append(t.done, ex)
}

// emitDone hands over finished exchanges whose linger has passed. The queue
// is consumed from doneHead and compacted only when half of it is spent.
func (t *Tracker) emitDone() {
	for t.doneHead < len(t.done) && t.now-t.done[t.doneHead].last > int64(linger) {
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
	if ex.Kind == KindTCPConn && t.tcp[ex.key] == ex {
		delete(t.tcp, ex.key)
	}
	t.Emit(ex)
}

// Flush hands every exchange not yet emitted to Emit, in the order they
// began. Without Emit it does nothing: Report has them all.
func (t *Tracker) Flush() {
	if t.Emit == nil {
		return
	}
	var rest []*Exchange
	seen := map[*Exchange]bool{}
	add := func(ex *Exchange) {
		if !seen[ex] {
			seen[ex] = true
			rest = append(rest, ex)
		}
	}
	for _, ex := range t.done[t.doneHead:] {
		add(ex)
	}
	for _, m := range []map[echoKey]*Exchange{t.echo} {
		for _, ex := range m {
			add(ex)
		}
	}
	for _, ex := range t.tcp {
		add(ex)
	}
	for _, m := range []map[resKey]*Exchange{t.arp, t.ndp} {
		for _, ex := range m {
			add(ex)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].order < rest[j].order })
	for _, ex := range rest {
		t.Emit(ex)
	}
	t.done, t.doneHead = nil, 0
	clear(t.echo)
	clear(t.tcp)
	clear(t.arp)
	clear(t.ndp)
	clear(t.seen)
}

// sighting reports whether p is a packet already counted, seen now at
// another capture point.
func (t *Tracker) sighting(p *Packet) (*Exchange, bool) {
	if p.Hash == 0 || len(t.Points) < 2 {
		return nil, false
	}
	r, ok := t.seen[p.Hash]
	bit := uint64(1) << (uint(p.Point) & 63)
	if !ok || r.points&bit != 0 || absDur(time.Duration(p.Time.UnixNano()-r.time)) > sightingWindow {
		return nil, false
	}
	r.points |= bit
	t.seen[p.Hash] = r
	return r.ex, true
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// sweep drops expired entries so that memory follows live exchanges, not
// the length of the capture.
func (t *Tracker) sweep() {
	if t.now-t.swept < int64(time.Second) {
		return
	}
	t.swept = t.now
	for h, r := range t.seen {
		if t.now-r.time > int64(sightingWindow) {
			delete(t.seen, h)
		}
	}
	expire(t, t.echo)
	expire(t, t.tcp)
	expire(t, t.arp)
	expire(t, t.ndp)
}

func expire[K comparable](t *Tracker, m map[K]*Exchange) {
	for k, e := range m {
		if t.now-e.last > int64(expireAfter) {
			delete(m, k)
			t.finish(e)
		}
	}
}

func (t *Tracker) start(p *Packet, kind string, src, dst string) *Exchange {
	t.order++
	room := 4 // a request and its answer, seen at both ends
	if kind == KindTCPConn {
		room = 8
	}
	ex := &Exchange{Kind: kind, Src: src, Dst: dst, Start: p.Time, last: p.Time.UnixNano(), order: t.order, Seen: make([]Sighting, 0, room)}
	if t.Emit == nil {
		t.all = append(t.all, ex)
	}
	return ex
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
		ex := t.echo[k]
		if ex == nil {
			ex = t.start(p, kind, p.Src.String(), p.Dst.String())
			ex.Status, ex.req = StatusUnanswered, p.Time
			ex.setEcho(p.ID, p.Seq)
			t.echo[k] = ex
		}
		ex.Requests++
		ex.see(p, t.Points, "request")
		return ex
	case rep:
		k := mkEchoKey(p.Dst, p.Src, p.ID, p.Seq)
		ex := t.echo[k]
		if ex == nil {
			ex = t.start(p, kind, p.Dst.String(), p.Src.String())
			ex.setEcho(p.ID, p.Seq)
		} else if ex.Status != StatusAnswered && !p.NoTime {
			ex.setRTT(p.Time.Sub(ex.req))
		}
		ex.Status = StatusAnswered
		delete(t.echo, k)
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
		k := mkTCPKey(src, dst)
		ex := t.tcp[k]
		if ex != nil && *ex.ISN == p.TCPSeq && ex.state == tcpSyn {
			ex.Requests++
			ex.see(p, t.Points, "[S] (retransmission)")
			return ex
		}
		if ex != nil {
			t.finish(ex) // a new attempt on the same 4-tuple
		}
		ex = t.start(p, KindTCPConn, src.String(), dst.String())
		ex.Status, ex.Requests, ex.req, ex.Close, ex.key = StatusUnanswered, 1, p.Time, "open", k
		ex.setTCP(true)
		ex.vals.isn, ex.ISN = p.TCPSeq, &ex.vals.isn
		t.tcp[k] = ex
		ex.see(p, t.Points, "[S]")
		return ex
	}
	ex, toServer := t.tcp[mkTCPKey(src, dst)], true
	if ex == nil {
		ex, toServer = t.tcp[mkTCPKey(dst, src)], false
	}
	if ex == nil {
		if rst {
			return nil // a reset for a connection we never saw open
		}
		ex = t.start(p, KindTCPConn, src.String(), dst.String())
		ex.Status, ex.state, ex.Close, ex.key = StatusEstablished, tcpEstablished, "open", mkTCPKey(src, dst)
		toServer = true // the sender of the first packet seen plays the client
		ex.setTCP(false)
		t.tcp[ex.key] = ex
	}
	what := tcpFlags(p.Flags)
	switch {
	case !toServer && syn && ack && ex.state == tcpSyn:
		ex.state, ex.SynAckSeen = tcpSynAck, true
		if !p.NoTime {
			ex.setRTT(p.Time.Sub(ex.req))
		}
	case !toServer && rst && ex.state <= tcpSynAck:
		ex.Status, ex.state, ex.Close = StatusRefused, tcpClosed, "rst"
		t.finish(ex)
	case toServer && ack && ex.state == tcpSynAck:
		ex.Status, ex.state = StatusEstablished, tcpEstablished
	}
	if ex.state == tcpEstablished || ex.state == tcpClosed && ex.Status == StatusEstablished {
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
	ex.see(p, t.Points, what)
	return ex
}

func (t *Tracker) addARP(p *Packet) *Exchange {
	switch p.ARPOp {
	case 1:
		return t.ask(t.arp, KindARPRes, resKey{p.ARPSender, p.ARPTarget}, p, "who-has")
	case 2:
		ex := t.answer(t.arp, KindARPRes, resKey{p.ARPTarget, p.ARPSender}, p, "is-at")
		ex.Answer = macString(p.SenderMAC)
		return ex
	}
	return nil
}

func (t *Tracker) addNDP(p *Packet) *Exchange {
	if p.ICMPType == 135 {
		return t.ask(t.ndp, KindNDP, resKey{p.Src, p.NDTarget}, p, "neighbor solicitation")
	}
	return t.answer(t.ndp, KindNDP, resKey{p.Dst, p.NDTarget}, p, "neighbor advertisement")
}

// ask records a resolution request (ARP who-has, neighbour solicitation);
// a retry before any answer joins the same exchange.
func (t *Tracker) ask(m map[resKey]*Exchange, kind string, k resKey, p *Packet, what string) *Exchange {
	ex := m[k]
	if ex == nil {
		ex = t.start(p, kind, k.requester.String(), k.target.String())
		ex.Status, ex.req = StatusUnanswered, p.Time
		m[k] = ex
	}
	ex.Requests++
	ex.see(p, t.Points, what)
	return ex
}

// answer closes the resolution k names, or records an unsolicited answer.
func (t *Tracker) answer(m map[resKey]*Exchange, kind string, k resKey, p *Packet, what string) *Exchange {
	ex := m[k]
	if ex == nil {
		ex = t.start(p, kind, k.requester.String(), k.target.String())
	} else if !p.NoTime {
		ex.setRTT(p.Time.Sub(ex.req))
	}
	delete(m, k)
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
			ex = t.echo[mkEchoKey(q.Src, q.Dst, q.ID, q.Seq)]
		case q.Proto == 6:
			ex = t.tcp[mkTCPKey(netip.AddrPortFrom(q.Src, q.SrcPort), netip.AddrPortFrom(q.Dst, q.DstPort))]
		}
	}
	if ex == nil {
		src, dst := p.Src.String(), p.Dst.String()
		if q.Valid {
			src, dst = endpoint(q.Src, q.SrcPort, q.Proto), endpoint(q.Dst, q.DstPort, q.Proto)
		}
		ex = t.start(p, KindICMPError, src, dst)
	}
	ex.Status = StatusError
	ex.Errors = append(ex.Errors, e)
	ex.see(p, t.Points, e.Text)
	if ex.Kind == KindICMPError {
		t.finish(ex)
	}
	return ex
}

func endpoint(a netip.Addr, port uint16, proto uint8) string {
	if proto == 6 || proto == 17 {
		return netip.AddrPortFrom(a, port).String()
	}
	return a.String()
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
