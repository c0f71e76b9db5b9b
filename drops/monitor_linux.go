package drops

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Config tunes a Monitor; nil means the defaults.
type Config struct {
	// HeadBytes is how much of each packet is kept from its network header
	// on: default 128 (every IPv4/IPv6 + TCP header), at most 512.
	HeadBytes int
	// RingBytes is the ring buffer's size: default 4 MiB (about 20,000
	// drops waiting to be read), rounded up to a power of two pages.
	RingBytes int
}

func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.HeadBytes <= 0 {
		d.HeadBytes = 128
	}
	d.HeadBytes = min(d.HeadBytes, 512)
	if d.RingBytes <= 0 {
		d.RingBytes = 4 << 20
	}
	ring := os.Getpagesize()
	for ring < d.RingBytes {
		ring <<= 1
	}
	d.RingBytes = ring
	return d
}

// Monitor reports the drops in the watched namespaces until closed.
type Monitor struct {
	cfg     Config
	layout  *layout
	watched *ebpf.Map
	events  *ebpf.Map
	lost    *ebpf.Map
	prog    *ebpf.Program
	link    link.Link
	reader  *ringbuf.Reader
	// bootOffset turns bpf_ktime_get_ns (CLOCK_MONOTONIC) into wall time.
	bootOffset time.Duration
	syms       *symbols
	ifnames    map[string]string // interned interface names, for Run's goroutine
	closeOnce  sync.Once
}

// Open starts reporting the drops of the namespaces with these inodes. An
// error wrapping ErrUnavailable says what this kernel or process lacks.
func Open(inodes []uint64, cfg *Config) (*Monitor, error) {
	m := &Monitor{cfg: cfg.withDefaults(), ifnames: map[string]string{}}
	l, err := loadLayout()
	if err != nil {
		return nil, err
	}
	m.layout = l
	if err := m.load(inodes); err != nil {
		m.Close()
		return nil, err
	}
	m.syms = newSymbols()
	var mono, real unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	unix.ClockGettime(unix.CLOCK_REALTIME, &real)
	m.bootOffset = time.Duration(real.Nano() - mono.Nano())
	return m, nil
}

// raiseMemlock lifts RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF
// maps to (later ones charge the memory cgroup, and it changes nothing).
// cilium/ebpf's rlimit.RemoveMemlock does the same, but importing its
// package runs a BPF probe at init in every nsdump command, drops or not.
// A limit that cannot be raised (no CAP_SYS_RESOURCE) is left as it is:
// on an old kernel the maps then fail to load, and that error says why.
func raiseMemlock() {
	inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf)
}

func (m *Monitor) load(inodes []uint64) error {
	raiseMemlock()
	var err error
	m.watched, err = ebpf.NewMap(&ebpf.MapSpec{Name: "nsdump_netns", Type: ebpf.Hash, KeySize: 8, ValueSize: 1, MaxEntries: 4096})
	if err != nil {
		return unavailable("create the namespace map", err)
	}
	for _, ino := range inodes {
		if err := m.Watch(ino); err != nil {
			return err
		}
	}
	m.events, err = ebpf.NewMap(&ebpf.MapSpec{Name: "nsdump_drops", Type: ebpf.RingBuf, MaxEntries: uint32(m.cfg.RingBytes)})
	if err != nil {
		return unavailable("create the ring buffer", err)
	}
	m.lost, err = ebpf.NewMap(&ebpf.MapSpec{Name: "nsdump_lost", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return unavailable("create the lost counter", err)
	}
	m.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "nsdump_drops",
		Type:         ebpf.RawTracepoint,
		License:      "GPL", // bpf_probe_read_kernel is GPL-only
		Instructions: program(m.layout, m.watched, m.events, m.lost, m.cfg.HeadBytes, m.cfg.RingBytes/8),
	})
	if err != nil {
		return unavailable("load the eBPF program", err)
	}
	m.reader, err = ringbuf.NewReader(m.events)
	if err != nil {
		return unavailable("read the ring buffer", err)
	}
	m.link, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: "kfree_skb", Program: m.prog})
	if err != nil {
		return unavailable("attach to skb:kfree_skb", err)
	}
	return nil
}

func unavailable(op string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w: %s: %v (run as root or grant CAP_BPF and CAP_PERFMON)", ErrUnavailable, op, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
}

// Watch adds a namespace, by inode, to those reported. The key is the
// inode in a zeroed 64-bit word, as the program builds it.
func (m *Monitor) Watch(inode uint64) error {
	if err := m.watched.Put(uint64(uint32(inode)), uint8(1)); err != nil {
		return fmt.Errorf("watch namespace %d: %w", inode, err)
	}
	return nil
}

// LoadSymbols waits until the kernel's symbols, read in the background
// from Open on, are loaded: a capture calls it before it starts, so that
// reading them does not compete with the first drops.
func (m *Monitor) LoadSymbols() { <-m.syms.ready }

// Lost is how many drops the ring buffer had no room for.
func (m *Monitor) Lost() uint64 {
	var n uint64
	if m.lost != nil {
		m.lost.Lookup(uint32(0), &n)
	}
	return n
}

// Run calls fn for every drop until ctx is done or the monitor closed,
// then delivers what is still in the ring and returns nil. The Drop's
// Data is only valid until fn returns (it is the ring's record, not a
// copy: a flood of drops costs no allocation per packet).
func (m *Monitor) Run(ctx context.Context, fn func(Drop)) error {
	// Flush wakes a ReadInto that waits, which then returns what the ring
	// holds and ErrFlushed. (SetDeadline would wait for ReadInto's lock,
	// that is for the next drop.)
	stop := context.AfterFunc(ctx, func() { m.reader.Flush() })
	defer stop()
	// The program wakes the reader only when the ring is an eighth full:
	// below that, drops wait at most pollEvery.
	const pollEvery = 20 * time.Millisecond
	m.reader.SetDeadline(time.Now().Add(pollEvery))
	var rec ringbuf.Record
	for {
		err := m.reader.ReadInto(&rec)
		switch {
		case err == nil:
			if d, ok := m.decode(rec.RawSample); ok {
				fn(d)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			if ctx.Err() != nil {
				return nil
			}
			m.reader.SetDeadline(time.Now().Add(pollEvery))
		case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, ringbuf.ErrClosed), errors.Is(err, os.ErrClosed):
			return nil
		default:
			return fmt.Errorf("read kernel drops: %w", err)
		}
	}
}

// Close detaches the program and frees the maps; Run returns.
func (m *Monitor) Close() error {
	m.closeOnce.Do(func() {
		for _, c := range []interface{ Close() error }{m.link, m.reader, m.prog, m.events, m.lost, m.watched} {
			if c != nil && !isNilCloser(c) {
				c.Close()
			}
		}
	})
	return nil
}

func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case link.Link:
		return v == nil
	case *ringbuf.Reader:
		return v == nil
	case *ebpf.Program:
		return v == nil
	case *ebpf.Map:
		return v == nil
	}
	return false
}

var ne = binary.NativeEndian

// decode turns one ring buffer record into a Drop.
func (m *Monitor) decode(b []byte) (Drop, bool) {
	if len(b) < evPacket {
		return Drop{}, false
	}
	d := Drop{
		Time:     time.Unix(0, int64(ne.Uint64(b[evTime:]))).Add(m.bootOffset),
		Reason:   m.layout.reason(ne.Uint32(b[evReason:])),
		Location: m.syms.name(ne.Uint64(b[evLocation:])),
		Protocol: binary.BigEndian.Uint16(b[evProto:]),
		Netns:    uint64(ne.Uint32(b[evNetns:])),
		Ifindex:  int(ne.Uint32(b[evIfindex:])),
	}
	name := b[evName : evName+16]
	if i := strings.IndexByte(string(name), 0); i >= 0 {
		name = name[:i]
	}
	d.Iface = m.ifname(name)
	head, data := ne.Uint64(b[evHead:]), ne.Uint64(b[evData:])
	nh, tail := uint64(ne.Uint16(b[evNetHdr:])), ne.Uint64(b[evTail:])
	if m.layout.tailSize == 8 {
		tail -= head // a pointer on kernels that store one
	}
	skbLen := uint64(ne.Uint32(b[evLen:]))
	dataOff := data - head
	// The packet from the network header: what skb->len covers from data,
	// moved to where the network header starts.
	if nh <= dataOff+skbLen && data >= head {
		d.Len = int(dataOff + skbLen - nh)
	}
	copied := int32(ne.Uint32(b[evCopied:])) == 0
	avail := 0
	if tail > nh && copied {
		avail = int(min(tail-nh, uint64(len(b)-evPacket), uint64(m.cfg.HeadBytes)))
	}
	avail = min(avail, d.Len)
	d.Data = b[evPacket : evPacket+avail]
	if d.Protocol == 0 && len(d.Data) > 0 {
		switch d.Data[0] >> 4 {
		case 4:
			d.Protocol = EtherIPv4
		case 6:
			d.Protocol = EtherIPv6
		}
	}
	d.MAC = ethernetHeader(b, nh, copied, d.Protocol)
	return d, true
}

// ethernetHeader is the frame's own Ethernet header, which the program
// copied from right before the network header: nil unless skb->mac_header
// says one starts there and its EtherType is the packet's protocol (a
// packet the kernel built and dropped before any device had it has no
// MAC header yet; one with a VLAN tag in it is longer).
func ethernetHeader(b []byte, nh uint64, copied bool, proto uint16) []byte {
	mac := uint64(ne.Uint16(b[evMacHdr:]))
	if !copied || mac == 0xffff || mac+linkBytes != nh {
		return nil
	}
	h := b[evLink:evPacket]
	if binary.BigEndian.Uint16(h[12:]) != proto {
		return nil
	}
	return h
}

// ifname interns an interface name: a drop costs no allocation for it.
func (m *Monitor) ifname(b []byte) string {
	if s, ok := m.ifnames[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(m.ifnames) < 4096 {
		m.ifnames[s] = s
	}
	return s
}
