package decode

// The open list: every exchange not yet finished, least recently active
// first, so that finishing the idle ones and bounding how many are open
// costs O(1) per packet.

// touch makes ex the most recently active open exchange.
func (t *Tracker) touch(ex *Exchange) {
	if !ex.open || t.tail == ex {
		return
	}
	t.unlink(ex)
	t.push(ex)
}

func (t *Tracker) push(ex *Exchange) {
	ex.prev, ex.next, ex.open = t.tail, nil, true
	if t.tail != nil {
		t.tail.next = ex
	} else {
		t.first = ex
	}
	t.tail = ex
	t.nopen++
}

func (t *Tracker) unlink(ex *Exchange) {
	if ex.prev != nil {
		ex.prev.next = ex.next
	} else {
		t.first = ex.next
	}
	if ex.next != nil {
		ex.next.prev = ex.prev
	} else {
		t.tail = ex.prev
	}
	ex.prev, ex.next, ex.open = nil, nil, false
	t.nopen--
}

// expire finishes open exchanges idle for longer than Idle, and the least
// recently active ones while more than MaxOpen are open.
func (t *Tracker) expire() {
	idle, maxOpen := t.Idle, t.maxOpen()
	if idle <= 0 {
		idle = DefaultIdle
	}
	for t.first != nil && (t.now-t.first.last > int64(idle) || t.nopen > maxOpen) {
		ex := t.first
		if t.now-ex.last <= int64(idle) {
			t.evicted++
		}
		t.forget(ex)
		t.finish(ex)
	}
}

// forget removes ex from its table if it is still the entry there.
func (t *Tracker) forget(ex *Exchange) {
	if ex.tabled {
		t.remove(t.table(ex.Kind), ex)
	}
}

// put makes ex the entry of its key, ex.key, in table m, which has none;
// h is the key's hash, as m.lookup gave it.
func (t *Tracker) put(m *table, ex *Exchange, h uint64) {
	m.set(ex, h)
	ex.tabled = true
}

// remove takes ex, an entry of m if tabled, out of m. Knowing that spares
// a lookup of a key already gone.
func (t *Tracker) remove(m *table, ex *Exchange) {
	if ex.tabled {
		m.del(ex)
		ex.tabled = false
	}
}

// table is the lookup table of a kind of exchange, nil for ICMP errors.
func (t *Tracker) table(kind ExchangeKind) *table {
	switch kind {
	case KindEcho, KindEcho6:
		return t.echo
	case KindTCPConn:
		return t.tcp
	case KindUDPFlow, KindDNS:
		return t.udp
	case KindARPRes:
		return t.arp
	case KindNDP:
		return t.ndp
	}
	return nil
}

func (t *Tracker) maxOpen() int {
	if t.MaxOpen <= 0 {
		return DefaultMaxOpen
	}
	return t.MaxOpen
}

// maxLingering bounds the finished exchanges waiting out the linger: a
// flood packed in time finishes (or evicts) them faster than the linger
// lets them go, 200,000 in 200 ms at a million packets a second. Past it
// the oldest goes at once; it only waited for a later sighting of its last
// packet, and a packet that comes after it starts an exchange of its own.
func (t *Tracker) maxLingering() int { return max(t.maxOpen()/4, 64) }
