package decode

import "hash/maphash"

// table is the lookup table of one kind of exchange: flow key to open
// exchange. A flood churns it by the million (each packet a lookup that
// misses, an insertion, and a deletion when --max-open finishes the
// exchange), and Go's maps spent a third of `nsdump read` there, probing
// past deleted slots. This one uses open addressing with linear probing,
// at most half full, and deletes by moving later entries back, so that no
// deleted slot is left to probe past: a miss costs about two slots,
// whatever the churn. The hash is the runtime's, with a seed of its own,
// so a crafted file cannot pile its keys into one run of slots.
type table struct {
	slots []slot // a power of two, or none
	n     int
	seed  maphash.Seed
}

// slot is an entry: the key lives in the exchange (ex.key), and the hash
// beside it spares a look at every exchange probed past.
type slot struct {
	hash uint64
	ex   *Exchange
}

const minSlots = 64

func newTable() *table { return &table{seed: maphash.MakeSeed()} }

func (m *table) hash(k flowKey) uint64 { return maphash.Comparable(m.seed, k) }

// get returns the exchange of key k, or nil.
func (m *table) get(k flowKey) *Exchange {
	ex, _ := m.lookup(k)
	return ex
}

// lookup returns the exchange of key k, or nil, and k's hash, for a set
// of the same key to spare hashing it again.
func (m *table) lookup(k flowKey) (*Exchange, uint64) {
	h := m.hash(k)
	if m.n == 0 {
		return nil, h
	}
	mask := len(m.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.ex == nil {
			return nil, h
		}
		if s.hash == h && s.ex.key == k {
			return s.ex, h
		}
	}
}

// set makes ex the entry of its key, ex.key, whose hash is h (lookup's),
// replacing any there; ex keeps the hash, for del.
func (m *table) set(ex *Exchange, h uint64) {
	if 2*(m.n+1) > len(m.slots) {
		m.grow()
	}
	ex.hash = uint32(h)
	m.insert(h, ex)
}

func (m *table) insert(h uint64, ex *Exchange) {
	mask := len(m.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.ex == nil {
			*s = slot{h, ex}
			m.n++
			return
		}
		if s.hash == h && s.ex.key == ex.key {
			s.ex = ex
			return
		}
	}
}

// del removes ex, if it is an entry: found by the hash set gave it, and
// told from others by its address, so that no other exchange is read.
func (m *table) del(ex *Exchange) {
	if m.n == 0 {
		return
	}
	mask := len(m.slots) - 1
	i := int(ex.hash) & mask // the table has fewer than 2^32 slots
	for ; m.slots[i].ex != ex; i = (i + 1) & mask {
		if m.slots[i].ex == nil {
			return
		}
	}
	// Move back every later entry of the run that may sit at i: one whose
	// home slot is not cyclically in (i, j].
	for j := (i + 1) & mask; m.slots[j].ex != nil; j = (j + 1) & mask {
		home := int(m.slots[j].hash) & mask
		if (j-home)&mask >= (j-i)&mask {
			m.slots[i] = m.slots[j]
			i = j
		}
	}
	m.slots[i] = slot{}
	m.n--
}

// len is how many entries the table holds.
func (m *table) len() int { return m.n }

// clear removes every entry, keeping the slots.
func (m *table) clear() {
	clear(m.slots)
	m.n = 0
}

func (m *table) grow() {
	old := m.slots
	m.slots, m.n = make([]slot, max(2*len(old), minSlots)), 0
	for _, s := range old {
		if s.ex != nil {
			m.insert(s.hash, s.ex)
		}
	}
}
