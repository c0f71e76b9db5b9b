package netfilter

import (
	"slices"
	"strings"
)

// Traversal is one walk of a packet through one base chain and the chains
// it jumped to, as the trace events tell it.
type Traversal struct {
	Family Family `json:"family"`
	Table  string `json:"table"`
	Base   string `json:"base"` // the base chain (the hook's entry)
	// Entered lists the chains entered, in order, the base chain first:
	// chains returned from are included.
	Entered []string `json:"entered"`
	// Path is the chain of jumps and gotos that led to the verdict: Entered
	// less the chains returned from. A return from a chain entered by goto
	// goes back past the chain that went to it, as the kernel does.
	Path    []string `json:"path"`
	gotos   []bool   // per Path entry: entered by goto
	Verdict Verdict  `json:"verdict"`
	// Decided is the event that decided: a rule's (Handle set) or the base
	// chain's policy (Type EventPolicy). Verdict is its verdict. Nil when
	// the events stop before a verdict (a truncated trace).
	Decided *Event  `json:"decided,omitempty"`
	Events  []Event `json:"events"`
}

// Policy says whether the base chain's policy decided.
func (t Traversal) Policy() bool { return t.Decided != nil && t.Decided.Type == EventPolicy }

// Packet is one packet's way through a namespace's rules: the traversals of
// every base chain (of every table and hook) it went through, in order.
type Packet struct {
	ID     uint32      `json:"id"`
	Header Header      `json:"header"` // as first seen
	Walks  []Traversal `json:"walks"`
	hooks  []string    // nsdump's chains the packet entered: "family chain"
}

// Fate is the traversal that ended the packet: the first whose verdict is
// not accept (drop, queue, stolen), else the last one.
func (p Packet) Fate() (Traversal, bool) {
	for _, w := range p.Walks {
		if w.Verdict.Kind != VerdictAccept && w.Verdict.Kind != VerdictNone {
			return w, true
		}
	}
	if len(p.Walks) == 0 {
		return Traversal{}, false
	}
	return p.Walks[len(p.Walks)-1], true
}

// Dropped says whether a rule or a policy dropped the packet.
func (p Packet) Dropped() bool {
	w, ok := p.Fate()
	return ok && w.Verdict.Kind == VerdictDrop
}

// Packets groups events into packets. The kernel gives one ID to all of a
// packet's events, but may give it again to a later packet (the ID hashes
// the sk_buff's address). Every packet enters nsdump's own chains first
// (prerouting or output, priority -350), once per family (a bridged frame
// passes the bridge family's and, with br_netfilter, the inet one's), and
// the first event there carries its header: entering one of nsdump's chains
// the packet of that ID already entered starts a new packet. Events of
// nsdump's own tables are not part of the walks.
func Packets(events []Event) []Packet {
	var out []Packet
	open := map[uint32]int{} // id -> index in out of its current packet
	for _, ev := range events {
		i, ok := open[ev.ID]
		if ownTable(ev.Table) {
			if !ev.Packet.Valid || ev.Handle == 0 {
				continue
			}
			hook := ev.Family.String() + " " + ev.Chain
			if !ok || slices.Contains(out[i].hooks, hook) {
				out = append(out, Packet{ID: ev.ID, Header: ev.Packet})
				i = len(out) - 1
				open[ev.ID] = i
			}
			out[i].hooks = append(out[i].hooks, hook)
			continue
		}
		if !ok {
			out = append(out, Packet{ID: ev.ID, Header: ev.Packet})
			i = len(out) - 1
			open[ev.ID] = i
		}
		out[i].add(ev)
	}
	for i := range out {
		for j := range out[i].Walks {
			out[i].Walks[j].finish()
		}
	}
	return out
}

// add places ev in the packet's current traversal, or starts one.
func (p *Packet) add(ev Event) {
	if !p.Header.Valid && ev.Packet.Valid {
		p.Header = ev.Packet
	}
	n := len(p.Walks)
	if n == 0 || p.Walks[n-1].done() || p.Walks[n-1].Table != ev.Table || p.Walks[n-1].Family != ev.Family {
		p.Walks = append(p.Walks, Traversal{Family: ev.Family, Table: ev.Table, Base: ev.Chain,
			Entered: []string{ev.Chain}, Path: []string{ev.Chain}, gotos: []bool{false}})
		n++
	}
	p.Walks[n-1].step(ev)
}

func (t *Traversal) done() bool { return t.Decided != nil }

// step follows one event: jumps and gotos push a chain on the path, returns
// (explicit, or a chain's end: a handle-0 event) pop it; a terminal verdict
// or the policy decides.
func (t *Traversal) step(ev Event) {
	t.Events = append(t.Events, ev)
	t.returnTo(ev.Chain)
	switch {
	case ev.Type == EventPolicy:
		t.decide(ev)
	case ev.Type == EventReturn || ev.Handle == 0 && ev.Verdict.Kind == VerdictContinue:
		t.pop()
	case ev.Verdict.Kind == VerdictJump || ev.Verdict.Kind == VerdictGoto:
		t.Path = append(t.Path, ev.Verdict.Chain)
		t.gotos = append(t.gotos, ev.Verdict.Kind == VerdictGoto)
		t.Entered = append(t.Entered, ev.Verdict.Chain)
	case ev.Verdict.Kind == VerdictReturn:
		t.pop()
	case ev.Verdict.Kind.Terminal():
		t.decide(ev)
	}
}

// returnTo pops the path down to chain when an event shows the walk back in
// a chain below the top (a return whose event was not seen).
func (t *Traversal) returnTo(chain string) {
	for i := len(t.Path) - 1; i > 0; i-- {
		if t.Path[i] == chain {
			t.truncate(i + 1)
			return
		}
	}
	if len(t.Path) > 0 && t.Path[0] == chain {
		t.truncate(1)
	}
}

func (t *Traversal) truncate(n int) {
	if n < len(t.Path) {
		t.Path, t.gotos = t.Path[:n], t.gotos[:n]
	}
}

// pop leaves the top chain, and the chains that went to it by goto; the
// base chain stays (its end is the policy).
func (t *Traversal) pop() {
	n := len(t.Path)
	for n > 1 {
		n--
		if !t.gotos[n] {
			break
		}
	}
	t.truncate(n)
}

func (t *Traversal) decide(ev Event) {
	e := ev
	t.Decided = &e
	t.Verdict = ev.Verdict
}

// finish fixes up a traversal the events stopped in: nothing decided.
func (t *Traversal) finish() {
	if t.Decided == nil {
		t.Verdict = Verdict{}
	}
}

// PathString is the path as the issue writes it: A -> B -> C.
func (t Traversal) PathString() string { return strings.Join(t.Path, " -> ") }
