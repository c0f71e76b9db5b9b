package netfilter

import (
	"errors"

	"golang.org/x/sys/unix"
)

const ipctnlMsgCtDelete = 2

// Conntrack returns the conntrack entries of the probes' flows as the
// namespace's conntrack events showed them (Config.Conntrack): the latest
// state of each, Destroyed when the kernel deleted it. Lost events give an
// *Unreadable beside the entries kept.
func (t *Tracer) Conntrack() ([]Conntrack, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ct == nil && !t.closed {
		return nil, unreadable("conntrack events", t.ns.Name, errors.New("the tracer was started without Config.Conntrack"))
	}
	if !t.closed {
		t.drainConntrack()
	}
	out := make([]Conntrack, 0, len(t.ctOrder))
	for _, id := range t.ctOrder {
		out = append(out, t.flows[id])
	}
	if t.ctLost {
		return out, unreadable("conntrack events", t.ns.Name, errors.New("the kernel dropped conntrack events: the socket's buffer overflowed"))
	}
	return out, nil
}

// drainConntrack reads the conntrack events queued so far. Callers hold mu.
func (t *Tracer) drainConntrack() {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(t.ct.fd, buf, unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			t.ctLost = true
			continue
		case err != nil:
			if !errors.Is(err, unix.EAGAIN) {
				t.ctLost = true
			}
			return
		}
		t.conntrackEvents(buf[:n])
	}
}

func (t *Tracer) conntrackEvents(b []byte) {
	msgs, _ := splitMessages(b)
	for _, m := range msgs {
		if m.Type>>8 != unix.NFNL_SUBSYS_CTNETLINK {
			continue
		}
		ct, err := ParseConntrack(m.Payload)
		if err != nil || !matchesAny(ct, t.probes) {
			continue
		}
		ct.Destroyed = m.Type&0xff == ipctnlMsgCtDelete
		if old, ok := t.flows[ct.ID]; ok {
			ct = merge(old, ct)
		} else {
			t.ctOrder = append(t.ctOrder, ct.ID)
		}
		t.flows[ct.ID] = ct
	}
}

// merge keeps what a later event of one entry leaves out: update events
// carry only what changed.
func merge(old, ct Conntrack) Conntrack {
	if ct.Status == 0 {
		ct.Status = old.Status
	}
	if ct.TCPState == "" {
		ct.TCPState = old.TCPState
	}
	if ct.Mark == 0 {
		ct.Mark = old.Mark
	}
	return ct
}
