package trace

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsdump/nsdump/netfilter"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/judge"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Following a DNAT (a published port) into the namespace behind it.
//
// Where a DNAT sends the probes is the kernel's word only once a packet
// has gone: the conntrack entry of its flow, whose reply comes from the
// address it was sent to. nsdump matches no NAT rule itself (nft,
// iptables-nft, iptables-legacy, IPVS, a map or a numgen load balancer:
// the kernel's choice, not a reading of the rules), and a route lookup
// knows nothing of NAT. So before capturing, a trace asks (askNAT): each
// direction sends one bare TCP SYN and one echo request while every
// namespace on the paths is watched for conntrack events, and an entry
// whose reply does not come from where its packet was sent is a DNAT.
// The path then goes on from the namespace that made it to the new
// destination (judge.WalkNAT), and the probes are captured and traced
// there like on every hop. The SYN is never answered by a connection (the
// sender's kernel resets the SYN-ACK), so a listener that serves one (nc
// -l, the fix of a closed port) is still there for the probe.
//
// Other ways were weighed: the nftables trace names the NAT rule but not
// where a map or load balancer sent the packet; reading conntrack after
// the probes and sending them again costs a second round, and its first
// connection takes a one-connection listener away from the second.
// Asking costs a healthy trace a round trip per direction and a failing
// one, whose SYN nobody answers, up to the probes' timeout.

// natWay is the way a run's probes of one protocol go when conntrack
// showed their flow's destination rewritten on the way.
type natWay struct {
	to               netip.AddrPort // the destination the DNAT gave them
	path, back       []facts.Hop
	pathCut, backCut bool
}

// followNAT gives each run a way per protocol whose flow entries show
// DNAT'd where its path does not lead, its route lookups added to the
// plan's and its path shown as the run's.
func (pl *plan) followNAT(w *liveWorld, entries []facts.ConntrackEntry) {
	for _, r := range pl.runs {
		for _, proto := range []uint8{r.icmpProto(), netfilter.ProtoTCP} {
			trs := r.dnats(proto, entries)
			if len(trs) == 0 {
				continue
			}
			src := r.probeSrc()
			path, lks, cut := judge.WalkNAT(w, r.from.name, src, r.dst, trs)
			if slices.Equal(path, r.path) || len(path) == 0 {
				continue
			}
			way := &natWay{to: path[slices.IndexFunc(path, func(h facts.Hop) bool { return h.DNATTo.IsValid() })].DNATTo, path: path, pathCut: cut,
				back: r.backPath, backCut: r.backCut}
			if last := path[len(path)-1]; last.Role == facts.RoleDestination {
				// The answer comes from the backend, to the probe's source.
				var blks []facts.Lookup
				way.back, blks, way.backCut = judge.Walk(w, last.Namespace, way.to.Addr(), src)
				lks = append(lks, blks...)
			}
			if r.nat == nil {
				r.nat = map[uint8]*natWay{}
			}
			r.nat[proto] = way
			pl.lookups = append(pl.lookups, lks...)
			pl.showWay(r, way)
		}
	}
}

// showWay makes the way the one the output shows for r's direction and
// family: the path with the hop where the rewrite happens.
func (pl *plan) showWay(r *run, way *natWay) {
	for i, fp := range pl.famPaths {
		if fp.Direction == r.direction() && fp.Family == r.fam {
			pl.famPaths[i].Hops, pl.famPaths[i].Truncated = way.path, way.pathCut
		}
	}
	if slices.Equal(pl.paths[r.direction()], r.path) {
		pl.paths[r.direction()] = way.path
	}
}

// dnats are the destination rewrites of r's flow of proto that entries
// show, in any namespace.
func (r *run) dnats(proto uint8, entries []facts.ConntrackEntry) []judge.Translation {
	src := r.probeSrc()
	var out []judge.Translation
	for _, c := range entries {
		o := c.Original
		if o.Proto != proto || o.Src != src || o.Dst != r.dst || proto == netfilter.ProtoTCP && o.DPort != r.cfg.Port {
			continue
		}
		for _, t := range judge.Rewrites(c) {
			if t.Kind != judge.NATSource && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// probeSrc is the source address of r's probes as its tracing sees them.
func (r *run) probeSrc() netip.Addr {
	if r.src.IsValid() {
		return r.src
	}
	return r.back
}

func (r *run) icmpProto() uint8 {
	if r.fam == 6 {
		return netfilter.ProtoICMPv6
	}
	return netfilter.ProtoICMP
}

// way is the way the probe of kind goes: its NAT way if it has one.
func (r *run) way(kind facts.ProbeKind) (path, back []facts.Hop, pathCut, backCut bool) {
	if w := r.natWay(kind); w != nil {
		return w.path, w.back, w.pathCut, w.backCut
	}
	return r.path, r.backPath, r.pathCut, r.backCut
}

// natTo is where a DNAT sent the probe of kind, if it did.
func (r *run) natTo(kind facts.ProbeKind) (netip.AddrPort, bool) {
	if w := r.natWay(kind); w != nil {
		return w.to, true
	}
	return netip.AddrPort{}, false
}

// natWay is the NAT way of the probe of kind: the echo's for the echo and
// mtu probes, the TCP flow's for the TCP probe; none for the udp probe,
// whose flow is not asked about.
func (r *run) natWay(kind facts.ProbeKind) *natWay {
	switch kind {
	case facts.KindTCP:
		return r.nat[netfilter.ProtoTCP]
	case facts.KindUDP:
		return nil
	}
	return r.nat[r.icmpProto()]
}

// hops are every hop of r's ways, NAT ways included.
func (r *run) hops() []facts.Hop {
	out := append(slices.Clone(r.path), r.backPath...)
	for _, proto := range []uint8{r.icmpProto(), netfilter.ProtoTCP} {
		if w := r.nat[proto]; w != nil {
			out = append(append(out, w.path...), w.back...)
		}
	}
	return out
}

// askNAT asks the kernel where the runs' flows go before they are traced:
// each run sends a bare TCP SYN to the port and one echo request while
// the conntrack events of every namespace of names (held by ts) are
// watched, and the entries they showed are returned. No listener ever
// sees the SYN: the answer (SYN-ACK) reaches a sender none of whose
// sockets has the port, and its kernel resets it, so a listener that
// serves one connection (nc -l) is still there for the probes. A SYN or
// echo no one answers is waited for until the probes' timeout.
//
// Only where some namespace on the paths can translate at all (a nat
// chain or table: netfilter.MayNAT) is anything sent: elsewhere the
// probes meet the path as they always did, no packet ahead of them.
func askNAT(ctx context.Context, ts *topology.Targets, names []string, runs []*run) []facts.ConntrackEntry {
	probes := nfProbes(runs, nil) // the dns probe is not asked about
	watches := make([]*netfilter.Tracer, len(names))
	var mayNAT atomic.Bool
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns, err := ts.OpenNamespace(name)
			if err != nil {
				return
			}
			defer ns.Close() // the watch's socket keeps the namespace
			nsf := netfilter.Namespace{Handle: ns, Name: name}
			if may, err := netfilter.MayNAT(nsf); may || err != nil {
				mayNAT.Store(true)
			}
			watches[i], _ = netfilter.Start(ctx, nsf, probes, &netfilter.Config{ConntrackOnly: true})
		}()
	}
	wg.Wait()
	defer func() {
		for _, t := range watches {
			if t != nil {
				t.Close()
			}
		}
	}()
	if !mayNAT.Load() {
		return nil
	}
	for _, r := range runs {
		wg.Add(2)
		go func() {
			defer wg.Done()
			askSYN(ctx, r.from.ns, r.probeSrc(), netip.AddrPortFrom(r.dst, r.cfg.Port), r.cfg.Timeout)
		}()
		go func() { defer wg.Done(); probeEcho(ctx, r.from.ns, r.src, r.dst, randomID(), 1, r.cfg.Timeout) }()
	}
	wg.Wait()
	var out []facts.ConntrackEntry
	for i, t := range watches {
		if t == nil {
			continue
		}
		seen, _ := t.Conntrack() // what was lost is not followed: the verdict still names the translation
		for _, c := range seen {
			out = append(out, conntrackEntry(names[i], c))
		}
	}
	return out
}

// askSYN sends a bare TCP SYN from src (a port of no socket's; the
// checksum is over src, so src must be the address the kernel sends
// from) to dst in ns and waits until dst answers it (SYN-ACK or reset),
// the timeout passes or ctx ends. It says whether dst answered.
func askSYN(ctx context.Context, ns netns.NsHandle, src netip.Addr, dst netip.AddrPort, timeout time.Duration) bool {
	fd, err := socketIn(ns, domain(dst.Addr()), unix.SOCK_RAW, unix.IPPROTO_TCP)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if unix.Bind(fd, sockaddr(src, 0)) != nil {
		return false // an address not usable: the probes say so
	}
	sport := 32768 + randomID()%28232 // the ephemeral range, as a connect would pick
	if unix.Sendto(fd, synSegment(src, dst, sport), 0, sockaddr(dst.Addr(), 0)) != nil {
		return false
	}
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && ctx.Err() == nil; {
		tv := unix.NsecToTimeval(max(min(time.Until(deadline), 100*time.Millisecond), time.Millisecond).Nanoseconds())
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err == nil && answersSYN(buf[:n], from, dst, sport) {
			return true
		}
	}
	return false
}

// synSegment is a TCP SYN from src:sport to dst, its checksum over the
// pseudo-header of either family.
func synSegment(src netip.Addr, dst netip.AddrPort, sport uint16) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dst.Port())
	binary.BigEndian.PutUint32(b[4:], uint32(randomID())<<16|uint32(randomID()))
	b[12], b[13] = 5<<4, 0x02 // 20 bytes, SYN
	binary.BigEndian.PutUint16(b[14:], 64240)
	pseudo := append(append(src.AsSlice(), dst.Addr().AsSlice()...), 0, unix.IPPROTO_TCP, 0, byte(len(b)))
	if src.Is6() {
		pseudo = append(append(src.AsSlice(), dst.Addr().AsSlice()...), 0, 0, 0, byte(len(b)), 0, 0, 0, unix.IPPROTO_TCP)
	}
	c := checksum(append(pseudo, b...))
	binary.BigEndian.PutUint16(b[16:], c)
	return b
}

// answersSYN says whether a segment a raw socket read (an IPv4 one with
// its IP header) is dst's answer to the SYN from port sport.
func answersSYN(b []byte, from unix.Sockaddr, dst netip.AddrPort, sport uint16) bool {
	if dst.Addr().Is4() {
		if len(b) < 20 || netip.AddrFrom4([4]byte(b[12:16])) != dst.Addr() {
			return false
		}
		b = b[int(b[0]&0x0f)*4:]
	} else if sa, ok := from.(*unix.SockaddrInet6); !ok || netip.AddrFrom16(sa.Addr) != dst.Addr() {
		return false
	}
	return len(b) >= 14 && binary.BigEndian.Uint16(b[0:]) == dst.Port() && binary.BigEndian.Uint16(b[2:]) == sport && b[13]&0x14 != 0 // ACK or RST
}
