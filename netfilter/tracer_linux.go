package netfilter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/nsdump/nsdump/topology"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Namespace is a network namespace the caller holds open; netfilter never
// closes the handle.
type Namespace struct {
	Handle netns.NsHandle
	Name   string // how errors and gaps show it
}

// Config adjusts a Tracer; nil means the defaults.
type Config struct {
	// Bridge adds a bridge family table, for paths through a bridge whose
	// frames netfilter sees (br_netfilter, or bridge family rules).
	Bridge bool
	// Conntrack also listens to the namespace's conntrack events, for
	// Tracer.Conntrack: entries the kernel deletes at once (a connection
	// refused by a reset alone) are seen there and nowhere else.
	Conntrack bool
	// ConntrackOnly listens to the conntrack events alone: no table is
	// made and no packet traced (Tables and Events are empty). A trace
	// asks so where its probes' flows go before it traces them.
	ConntrackOnly bool
}

// Tracer marks the probes' packets in one namespace and collects the trace
// events the kernel sends about them, until Close.
type Tracer struct {
	ns     Namespace
	id     topology.Identity
	tables []Table
	stop   func() bool // unregisters the context's AfterFunc

	mu       sync.Mutex
	ctl      *conn // made the tables: owns them
	mon      *conn // NFNLGRP_NFTRACE
	ct       *conn // conntrack events, with Config.Conntrack
	probes   []Probe
	flows    map[uint32]Conntrack // by conntrack id: the latest event
	ctOrder  []uint32
	ctLost   bool
	events   []Event
	lost     bool
	readErr  error
	closed   bool
	closeErr error
}

var tableSeq atomic.Int32

// owned makes tables whose lifetime the kernel binds to the socket that made
// them (NFT_TABLE_F_OWNER, Linux 5.12): a killed nsdump leaves no table even
// before `teardown --leftovers` runs. Tests turn it off to leave one.
var owned = true

// monitorBuffer is the trace socket's receive buffer: events wait there
// until Events reads them.
const monitorBuffer = 4 << 20

// Start listens to the namespace's trace events, then creates nsdump's
// tables that set nftrace on the probes' packets (both directions), recorded
// under the state directory first. The tables are removed by Close, or when
// ctx is cancelled.
func Start(ctx context.Context, ns Namespace, probes []Probe, cfg *Config) (*Tracer, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if len(probes) == 0 {
		return nil, fmt.Errorf("trace in %s: %w: no probes", ns.Name, ErrBadProbe)
	}
	for _, p := range probes {
		if err := p.Validate(); err != nil {
			return nil, err
		}
	}
	id, err := topology.IdentityOf(ns.Handle)
	if err != nil {
		return nil, unreadable("nftables trace", ns.Name, fmt.Errorf("namespace identity: %w", err))
	}
	t := &Tracer{ns: ns, id: id, probes: append([]Probe(nil), probes...), flows: map[uint32]Conntrack{}}
	if err := t.open(probes, cfg); err != nil {
		t.Close()
		return nil, err
	}
	t.mu.Lock()
	t.stop = context.AfterFunc(ctx, func() { t.Close() })
	t.mu.Unlock()
	return t, nil
}

func (t *Tracer) open(probes []Probe, cfg *Config) error {
	var err error
	if cfg.ConntrackOnly {
		if t.ct, err = dial(t.ns.Handle, unix.NFNLGRP_CONNTRACK_NEW, unix.NFNLGRP_CONNTRACK_UPDATE, unix.NFNLGRP_CONNTRACK_DESTROY); err != nil {
			return unreadable("conntrack events", t.ns.Name, err)
		}
		_ = unix.SetsockoptInt(t.ct.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, monitorBuffer)
		return nil
	}
	if t.mon, err = dial(t.ns.Handle, unix.NFNLGRP_NFTRACE); err != nil {
		return unreadable("nftables trace", t.ns.Name, err)
	}
	_ = unix.SetsockoptInt(t.mon.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, monitorBuffer)
	if cfg.Conntrack {
		t.ct, err = dial(t.ns.Handle, unix.NFNLGRP_CONNTRACK_NEW, unix.NFNLGRP_CONNTRACK_UPDATE, unix.NFNLGRP_CONNTRACK_DESTROY)
		if err != nil {
			return unreadable("conntrack events", t.ns.Name, err)
		}
		_ = unix.SetsockoptInt(t.ct.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, monitorBuffer)
	}
	if t.ctl, err = dial(t.ns.Handle); err != nil {
		return unreadable("nftables trace", t.ns.Name, err)
	}
	fams := []Family{FamilyInet}
	if cfg.Bridge {
		fams = append(fams, FamilyBridge)
	}
	for _, f := range fams {
		tb := Table{Family: f, Name: tableName(os.Getpid(), int(tableSeq.Add(1)))}
		if err := t.create(tb, probes); err != nil {
			return err
		}
	}
	return nil
}

// create records tb, then makes it. A failed creation leaves no record.
func (t *Tracer) create(tb Table, probes []Probe) error {
	r := newRecord(tb, t.id)
	if err := r.write(); err != nil {
		return err
	}
	err := t.ctl.batch(traceBatch(tb, probes, owned))
	if owned && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL)) {
		// A kernel before 5.12 has no owner tables: the record alone
		// covers a kill then.
		err = t.ctl.batch(traceBatch(tb, probes, false))
	}
	if err != nil {
		r.remove()
		return unreadable("nftables trace", t.ns.Name, fmt.Errorf("create table %s: %w", tb, err))
	}
	t.tables = append(t.tables, tb)
	return nil
}

// Tables names nsdump's tables in the namespace, for the output's one line.
func (t *Tracer) Tables() []Table { return append([]Table(nil), t.tables...) }

// Events returns every event received so far. The kernel queues a packet's
// events while it evaluates the rules, so once a probe is answered or timed
// out its events are all here. Lost events (the socket's buffer overflowed)
// give an *Unreadable error beside the events that were kept.
func (t *Tracer) Events() ([]Event, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed && t.mon != nil {
		t.drain()
	}
	evs := append([]Event(nil), t.events...)
	switch {
	case t.readErr != nil:
		return evs, unreadable("nftables trace", t.ns.Name, t.readErr)
	case t.lost:
		return evs, unreadable("nftables trace", t.ns.Name, errors.New("the kernel dropped trace events: the socket's buffer overflowed"))
	}
	return evs, nil
}

// drain reads what the trace socket holds without waiting. Callers hold mu.
func (t *Tracer) drain() {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(t.mon.fd, buf, unix.MSG_DONTWAIT)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.ENOBUFS):
			t.lost = true
			continue
		case err != nil:
			t.readErr = fmt.Errorf("receive trace events: %w", err)
			return
		}
		t.decode(buf[:n])
	}
}

func (t *Tracer) decode(b []byte) {
	msgs, err := splitMessages(b)
	if err != nil && t.readErr == nil {
		t.readErr = err
	}
	for _, m := range msgs {
		if m.Type != nftMsg(unix.NFT_MSG_TRACE) {
			continue
		}
		ev, err := ParseEvent(m.Payload)
		if err != nil {
			if t.readErr == nil {
				t.readErr = err
			}
			continue
		}
		t.events = append(t.events, ev)
	}
}

// Close removes nsdump's tables and their records, reads the last events
// and closes the sockets. It is safe to call more than once and from the
// context's cancellation at the same time; later calls return the first
// call's error.
func (t *Tracer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stop != nil {
		t.stop() // never waits for the AfterFunc: no deadlock on mu
	}
	if t.closed {
		return t.closeErr
	}
	t.closed = true
	if t.mon != nil {
		t.drain()
	}
	var errs []error
	for _, tb := range t.tables {
		errs = append(errs, t.remove(tb))
	}
	if t.ctl != nil {
		t.ctl.close()
	}
	if t.mon != nil {
		t.mon.close()
	}
	if t.ct != nil {
		t.drainConntrack()
		t.ct.close()
	}
	t.closeErr = errors.Join(errs...)
	return t.closeErr
}

// remove deletes tb, then its record; the record stays when the table could
// not be deleted, so that --leftovers can try again.
func (t *Tracer) remove(tb Table) error {
	err := t.ctl.batch([]message{delTableMsg(tb)})
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table %s in %s: %w", tb, t.ns.Name, err)
	}
	return newRecord(tb, t.id).remove()
}
