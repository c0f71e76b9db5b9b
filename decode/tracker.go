package decode

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// sightingWindow is how close in time the same bytes at two capture points
// count as one packet seen twice.
const sightingWindow = 200 * time.Millisecond

// expireAfter removes an exchange from the lookup tables once nothing has
// happened to it for this long; it stays in the report.
const expireAfter = 2 * time.Minute

type recent struct {
	ex     *Exchange
	time   time.Time
	points uint64 // capture points that saw it, as bits
}

// Tracker groups packets into exchanges. Finished exchanges leave its
// tables; all of them stay in the order they began.
type Tracker struct {
	Points []capture.Point

	packets int
	all     []*Exchange
	echo    map[echoKey]*Exchange
	tcp     map[tcpKey]*Exchange
	arp     map[resKey]*Exchange
	ndp     map[resKey]*Exchange
	seen    map[uint64]recent
	now     time.Time
	swept   time.Time
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
	if p.Time.After(t.now) {
		t.now = p.Time
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
	if ex != nil && p.Hash != 0 {
		r := t.seen[p.Hash]
		r.ex, r.time, r.points = ex, p.Time, 1<<(uint(p.Point)&63)
		t.seen[p.Hash] = r
	}
	t.sweep()
}

// sighting reports whether p is a packet already counted, seen now at
// another capture point.
func (t *Tracker) sighting(p *Packet) (*Exchange, bool) {
	if p.Hash == 0 || len(t.Points) < 2 {
		return nil, false
	}
	r, ok := t.seen[p.Hash]
	bit := uint64(1) << (uint(p.Point) & 63)
	if !ok || r.points&bit != 0 || absDur(p.Time.Sub(r.time)) > sightingWindow {
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
	if t.now.Sub(t.swept) < time.Second {
		return
	}
	t.swept = t.now
	for h, r := range t.seen {
		if t.now.Sub(r.time) > sightingWindow {
			delete(t.seen, h)
		}
	}
	expire(t.echo, t.now)
	expire(t.tcp, t.now)
	expire(t.arp, t.now)
	expire(t.ndp, t.now)
}

func expire[K comparable](m map[K]*Exchange, now time.Time) {
	for k, e := range m {
		if now.Sub(e.last) > expireAfter {
			delete(m, k)
		}
	}
}

func (t *Tracker) start(p *Packet, kind string, src, dst string) *Exchange {
	ex := &Exchange{Kind: kind, Src: src, Dst: dst, Start: p.Time, last: p.Time}
	t.all = append(t.all, ex)
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
		k := echoKey{p.Src, p.Dst, p.ID, p.Seq}
		ex := t.echo[k]
		if ex == nil {
			ex = t.start(p, kind, p.Src.String(), p.Dst.String())
			ex.Status, ex.ID, ex.Seq, ex.req = StatusUnanswered, ptr(p.ID), ptr(p.Seq), p.Time
			t.echo[k] = ex
		}
		ex.Requests++
		ex.see(p, t.Points, "request")
		return ex
	case rep:
		k := echoKey{p.Dst, p.Src, p.ID, p.Seq}
		ex := t.echo[k]
		if ex == nil {
			ex = t.start(p, kind, p.Dst.String(), p.Src.String())
			ex.ID, ex.Seq = ptr(p.ID), ptr(p.Seq)
		} else if ex.Status != StatusAnswered && !p.NoTime {
			ex.RTTms = ptr(float64(p.Time.Sub(ex.req).Microseconds()) / 1000)
		}
		ex.Status = StatusAnswered
		delete(t.echo, k)
		ex.see(p, t.Points, "reply")
		return ex
	}
	return nil
}

func (t *Tracker) addTCP(p *Packet) *Exchange {
	src, dst := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	syn, ack, rst, fin := p.Flags&SYN != 0, p.Flags&ACK != 0, p.Flags&RST != 0, p.Flags&FIN != 0
	if syn && !ack {
		k := tcpKey{src, dst}
		ex := t.tcp[k]
		if ex != nil && *ex.ISN == p.TCPSeq && ex.state == tcpSyn {
			ex.Requests++
			ex.see(p, t.Points, "[S] (retransmission)")
			return ex
		}
		ex = t.start(p, KindTCPConn, src.String(), dst.String())
		ex.Status, ex.ISN, ex.SynSeen, ex.Requests, ex.req = StatusUnanswered, ptr(p.TCPSeq), ptr(true), 1, p.Time
		ex.BytesToServer, ex.BytesToClient, ex.Close = ptr(0), ptr(0), "open"
		t.tcp[k] = ex
		ex.see(p, t.Points, "[S]")
		return ex
	}
	ex, toServer := t.tcp[tcpKey{src, dst}], true
	if ex == nil {
		ex, toServer = t.tcp[tcpKey{dst, src}], false
	}
	if ex == nil {
		if rst {
			return nil // a reset for a connection we never saw open
		}
		ex = t.start(p, KindTCPConn, src.String(), dst.String())
		ex.Status, ex.SynSeen, ex.state, ex.Close = StatusEstablished, ptr(false), tcpEstablished, "open"
		ex.BytesToServer, ex.BytesToClient = ptr(0), ptr(0)
		t.tcp[tcpKey{src, dst}] = ex
	}
	what := tcpFlags(p.Flags)
	switch {
	case !toServer && syn && ack && ex.state == tcpSyn:
		ex.state, ex.SynAckSeen = tcpSynAck, true
		if !p.NoTime {
			ex.RTTms = ptr(float64(p.Time.Sub(ex.req).Microseconds()) / 1000)
		}
	case !toServer && rst && ex.state <= tcpSynAck:
		ex.Status, ex.state, ex.Close = StatusRefused, tcpClosed, "rst"
		delete(t.tcp, tcpKey{dst, src})
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
		case fin && ex.Close != "rst":
			ex.Close = "fin"
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
		ex.RTTms = ptr(float64(p.Time.Sub(ex.req).Microseconds()) / 1000)
	}
	delete(m, k)
	ex.Status = StatusAnswered
	ex.see(p, t.Points, what)
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
			ex = t.echo[echoKey{q.Src, q.Dst, q.ID, q.Seq}]
		case q.Proto == 6:
			ex = t.tcp[tcpKey{netip.AddrPortFrom(q.Src, q.SrcPort), netip.AddrPortFrom(q.Dst, q.DstPort)}]
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
	return ex
}

func endpoint(a netip.Addr, port uint16, proto uint8) string {
	if proto == 6 || proto == 17 {
		return netip.AddrPortFrom(a, port).String()
	}
	return a.String()
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}
