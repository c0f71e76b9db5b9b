package decode

import "net/netip"

// dnsPort is the nameserver's port: a UDP exchange with it on one end is
// a DNS query and its response.
const dnsPort = 53

// addUDP joins a datagram to its exchange: the client's datagrams to a
// server until one comes back, which answers them. UDP has no handshake,
// so the sender of the first datagram seen plays the client (on port 53
// the side that is not port 53), and stays the client for the flow: what
// the server sends after the answer joins that exchange too, and the
// client's next datagram starts the next one, as each echo request does.
// A late answer never turns the flow around.
func (t *Tracker) addUDP(p *Packet) *Exchange {
	src, dst := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	if ex := t.udp.get(mkUDPKey(dst, src)); ex != nil {
		if ex.Status != StatusAnswered && !p.NoTime {
			ex.setRTT(p.Time.Sub(ex.req))
		}
		ex.Status = StatusAnswered
		ex.see(p, t.Points, udpWhat(ex.Kind, true))
		return ex
	}
	if p.SrcPort == dnsPort && p.DstPort != dnsPort {
		// A response whose query was not seen: an answered exchange of
		// its own, as an echo reply alone is.
		ex := t.start(p, KindDNS, dst, src, true)
		ex.Status = StatusAnswered
		ex.see(p, t.Points, udpWhat(KindDNS, true))
		t.finish(ex)
		return ex
	}
	k := mkUDPKey(src, dst)
	ex, h := t.udp.lookup(k)
	if ex != nil && ex.Status == StatusAnswered {
		t.remove(t.udp, ex)
		t.finish(ex)
		ex = nil
	}
	if ex == nil {
		kind := KindUDPFlow
		if p.DstPort == dnsPort {
			kind = KindDNS
		}
		ex = t.start(p, kind, src, dst, true)
		ex.Status, ex.req, ex.key = StatusUnanswered, p.Time, k
		t.put(t.udp, ex, h)
	}
	ex.Requests++
	ex.see(p, t.Points, udpWhat(ex.Kind, false))
	return ex
}

// udpWhat names a datagram of an exchange of kind: the client's and the
// answer.
func udpWhat(kind ExchangeKind, answer bool) string {
	switch {
	case kind == KindDNS && answer:
		return "response"
	case kind == KindDNS:
		return "query"
	case answer:
		return "reply"
	}
	return "request"
}

// describe names a packet of ex seen again at another capture point: a
// datagram by its side of the exchange, as when it was first seen.
func (ex *Exchange) describe(p *Packet) string {
	if p.Kind == KindUDP && (ex.Kind == KindUDPFlow || ex.Kind == KindDNS) {
		return udpWhat(ex.Kind, p.Src != ex.SrcAddr || p.SrcPort != ex.SrcPort)
	}
	return describe(p)
}
