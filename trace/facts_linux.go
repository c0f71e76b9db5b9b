package trace

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/judge"
	"golang.org/x/sys/unix"
)

// Gathering: everything a verdict is made from is read here, after the
// probes, into res.Facts; Judge then reads nothing else.

// gather decodes what was captured, builds every probe (what it sent and
// got, where it was seen) and its facts, and reads the kernel state the
// judgement needs: the namespaces on the paths, the ends after the
// probes, their counters, route lookups and, when a probe failed, the
// firewall rules.
func (res *Result) gather(w *liveWorld, a, b *side, fams []family, runs []*run, dns *dnsProbe) error {
	res.decodeFrames()
	res.endpoints(a, b, fams)
	failed, err := probesFailed(runs)
	if err != nil {
		return err
	}
	var dnsShown Probe
	var dnsFacts facts.ProbeFacts
	if dns != nil {
		if dns.err != nil {
			return dns.err
		}
		dnsShown, dnsFacts = dns.probe(res.Report.Exchanges)
		failed = failed || !dnsFacts.OK
	}
	res.gatherState(w, a, b, fams, runs, failed)
	f := res.Facts
	for _, r := range runs {
		routeGets := r.routeGets()
		for _, kind := range r.kinds() {
			pr, pf, ok := r.probe(kind, res.Report.Exchanges)
			if !ok {
				continue
			}
			pf.RouteGets = routeGets
			res.Probes = append(res.Probes, pr)
			f.Probes = append(f.Probes, pf)
		}
	}
	if dns != nil {
		res.Probes = append(res.Probes, dnsShown)
		f.Probes = append(f.Probes, dnsFacts)
	}
	return nil
}

// decodeFrames decodes what was captured into the report's exchanges,
// each frame numbered as the -w file numbers it.
func (res *Result) decodeFrames() {
	tr := decode.NewTracker(res.Points)
	// A request and its answer across MaxHops namespaces are seen 4 times
	// per link; retransmissions and the kernel's drops come on top.
	tr.Sightings = 8 * facts.MaxHops
	d := decode.NewDecoder()
	var p decode.Packet
	for i, f := range res.Frames {
		d.Decode(f, &p)
		p.Frame = i + 1
		tr.Add(&p)
	}
	res.Report = tr.Report()
}

// endpoints names the two ends, their containers and the addresses
// probed, the first family's first.
func (res *Result) endpoints(a, b *side, fams []family) {
	res.From = Endpoint{Namespace: a.name, Inode: a.info.Inode, Container: containerOf(a.info), Address: fams[0].a.String()}
	res.To = Endpoint{Namespace: b.name, Inode: b.info.Inode, Container: containerOf(b.info), Address: fams[0].b.String()}
	for _, f := range fams {
		res.From.Addresses = append(res.From.Addresses, f.a.String())
		res.To.Addresses = append(res.To.Addresses, f.b.String())
	}
}

// probesFailed says whether a probe of the runs failed, or the error
// that kept one from being sent at all.
func probesFailed(runs []*run) (bool, error) {
	failed := false
	for _, r := range runs {
		if r.echoErr != nil {
			return false, r.echoErr
		}
		if r.tcpErr != nil {
			return false, r.tcpErr
		}
		if r.udpErr != nil {
			return false, r.udpErr
		}
		failed = failed || !r.echoOK() || !r.tcpOK() || !r.mtuOK() || !r.udpOK()
	}
	return failed, nil
}

// gatherState reads the kernel state of the namespaces on the paths into
// the facts: their states, the ends after the probes, the kernel's
// settings, counters and resolutions, and the firewall rules when a
// probe failed; what could not be read goes in as gaps.
func (res *Result) gatherState(w *liveWorld, a, b *side, fams []family, runs []*run, failed bool) {
	f := res.Facts
	names := pathNames(a, b, runs)
	for _, ns := range names {
		if st := w.State(ns); st != nil {
			f.Namespaces = append(f.Namespaces, st)
		}
	}
	var gaps []facts.Gap
	var addrs []netip.Addr
	for _, fm := range fams {
		addrs = append(addrs, fm.a, fm.b)
	}
	f.After, gaps = afterStates(w, a.name, b.name, failed, addrs)
	f.Gaps = append(f.Gaps, gaps...)
	f.Kernel, gaps = gatherKernel(a.ts, names, runs, runs[0].cfg.Port, settingsOf(w, a, b, runs))
	f.Gaps = append(f.Gaps, gaps...)
	f.Counters = grownCounters(a, b)
	for _, s := range []*side{a, b} {
		if s.countersErr != nil {
			f.Gaps = append(f.Gaps, facts.Gap{What: facts.GapCounters, Namespace: s.name, Error: s.countersErr.Error()})
		}
	}
	f.Resolutions = resolutions(res.Report.Exchanges)
	if failed {
		f.Rules, gaps = gatherAllRules(a.ts, names, names) // iptables-legacy's too: the nftables trace cannot see them
		f.Gaps = append(f.Gaps, gaps...)
	}
}

// pathNames are the namespaces of both ends and of every path, each once.
func pathNames(a, b *side, runs []*run) []string {
	names := []string{a.name, b.name}
	for _, r := range runs {
		for _, h := range r.hops() {
			if !slices.Contains(names, h.Namespace) {
				names = append(names, h.Namespace)
			}
		}
	}
	return names
}

// neighbours are the namespaces behind the bridge ports and veth peers
// the two ends reach, read now: where an impostor may sit.
func neighbours(ts *topology.Targets, ends ...*nsstate.NamespaceState) []*nsstate.NamespaceState {
	var out []*nsstate.NamespaceState
	seen := map[string]bool{}
	for _, e := range ends {
		seen[e.Name] = true
	}
	var visit func(st *nsstate.NamespaceState, depth int)
	visit = func(st *nsstate.NamespaceState, depth int) {
		for _, l := range st.Links {
			if l.Peer == nil || l.Peer.Namespace == "" || seen[l.Peer.Namespace] || depth > 2 {
				continue
			}
			seen[l.Peer.Namespace] = true
			nst, err := ts.GatherState(l.Peer.Namespace)
			if err != nil {
				continue
			}
			out = append(out, nst)
			visit(nst, depth+1)
		}
	}
	for _, e := range ends {
		visit(e, 0)
	}
	return out
}

// grownCounters are the ends' drop and error counters that grew while the
// probes ran ("TcpExt:IPReversePathFilter +3"), the kernel's own word on
// where packets went; in name order.
func grownCounters(a, b *side) []facts.Counter {
	var out []facts.Counter
	for _, s := range []*side{a, b} {
		var names []string
		for k := range s.after {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			after, before := s.after[k], s.before[k]
			if judge.IsDropCounter(k[strings.Index(k, ":")+1:]) && after > before {
				out = append(out, facts.Counter{Namespace: s.name, Name: k, Grew: after - before})
			}
		}
	}
	return out
}

// resolutions are the neighbour resolutions the captures saw, each
// sighting once.
func resolutions(exchanges []*decode.Exchange) []facts.Resolution {
	var out []facts.Resolution
	for _, ex := range exchanges {
		ask := ""
		switch ex.Kind {
		case decode.KindARPRes:
			ask = "who-has"
		case decode.KindNDP:
			ask = "neighbor solicitation"
		default:
			continue
		}
		target, err := netip.ParseAddr(ex.Dst)
		if err != nil {
			continue
		}
		for _, s := range ex.Seen {
			if sight, ok := sightOf(s); ok && s.What == ask {
				if r := (facts.Resolution{Target: target, Unanswered: ex.Status == decode.StatusUnanswered, Sight: sight}); !slices.Contains(out, r) {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// routeGets are the lookups r's verdicts may show, made now: in its
// destination (and a backend behind a DNAT) the route back to the source,
// in every other namespace of its paths the route to the destination.
func (r *run) routeGets() []facts.Lookup {
	var out []facts.Lookup
	var names []string
	ends := []string{r.to.name}
	for _, w := range r.nat {
		if last := w.path[len(w.path)-1]; last.Role == facts.RoleDestination {
			ends = append(ends, last.Namespace)
		}
	}
	for _, h := range append([]facts.Hop{{Namespace: r.from.name}, {Namespace: r.to.name}}, r.hops()...) {
		if !slices.Contains(names, h.Namespace) {
			names = append(names, h.Namespace)
		}
	}
	for _, ns := range names {
		if slices.Contains(ends, ns) {
			out = append(out, liveLookup(r.cfg.Targets, ns, r.srcAddr(), netip.Addr{}, ""))
		} else {
			out = append(out, liveLookup(r.cfg.Targets, ns, r.dst, netip.Addr{}, ""))
		}
	}
	return out
}

func (r *run) direction() string { return r.from.name + "->" + r.to.name }

// echoKind is the kind of the family's echo probe (its echoes' exchange kind).
func (r *run) echoKind() facts.ProbeKind {
	if r.fam == 6 {
		return facts.KindEcho6
	}
	return facts.KindEcho
}

func (r *run) echoOK() bool {
	return r.echo.Sent == r.cfg.Count && len(r.echo.Replies) == r.cfg.Count
}

// mtuOK: no mtu probe was sent, or every large echo was answered, or
// the sender learnt the path MTU (now, or before: its route holds it).
func (r *run) mtuOK() bool {
	if r.mtu.size == 0 || !r.echoOK() {
		return true
	}
	return len(r.mtu.echo.Replies) == r.cfg.Count || r.mtu.echo.PathMTU > 0 || r.mtu.cached > 0 && r.mtu.cached < r.mtu.size
}

func (r *run) tcpOK() bool { return r.tcp.Connected && (r.listener == nil || r.arrived) }

// srcAddr is the source address of the sender's probes: the one they are
// bound to, else the one its route to the destination picks, else the
// address the other side probes back.
func (r *run) srcAddr() netip.Addr {
	if r.src.IsValid() {
		return r.src
	}
	if lk := liveLookup(r.cfg.Targets, r.from.name, r.dst, netip.Addr{}, ""); lk.Src.IsValid() {
		return lk.Src
	}
	return r.back
}

// socketError types what a probe's socket returned.
func socketError(err error) facts.SocketError {
	if err == nil {
		return facts.SocketError{}
	}
	e := facts.SocketError{Text: err.Error()}
	var errno unix.Errno
	if errors.As(err, &errno) {
		e.Errno = unix.ErrnoName(errno)
	}
	return e
}

// probe is one probe of r as shown (what it sent and got, where it was
// seen) and its facts; ok is false for an mtu probe that was not sent.
func (r *run) probe(kind facts.ProbeKind, exchanges []*decode.Exchange) (Probe, facts.ProbeFacts, bool) {
	src := r.srcAddr()
	pr := Probe{Direction: r.direction(), Kind: kind, Family: r.fam}
	path, back, pathCut, backCut := r.way(kind)
	pf := facts.ProbeFacts{Direction: r.direction(), Kind: kind, Family: r.fam, From: r.from.name, To: r.to.name,
		Path: path, Back: back, PathTruncated: pathCut, BackTruncated: backCut, RequestSeen: []facts.Sight{}, AnswerSeen: []facts.Sight{}}
	proto := "icmp"
	if r.fam == 6 {
		proto = "ipv6-icmp"
	}
	pf.Request = facts.Packet{Family: r.fam, Proto: proto, Src: src, Dst: r.dst, ICMPType: "echo-request"}
	id, ok := r.socketFacts(kind, src, &pr, &pf, exchanges)
	if !ok {
		return pr, pf, false
	}
	pf.Answer = facts.Packet{Family: r.fam, Proto: pf.Request.Proto, Src: r.dst, Dst: src, SPort: pf.Request.DPort, DPort: pf.Request.SPort, ICMPType: "echo-reply"}
	var flow *decode.Exchange // past a DNAT: the flow's exchanges before and after it, as one
	var flowReq, flowAns func(decode.Sighting) bool
	_, translated := r.natTo(kind)
	for _, ex := range exchanges {
		req, ans, ok := r.roles(kind, ex, src, id)
		switch {
		case !ok:
			continue
		case translated && ex.Kind != decode.KindICMPError:
			if flow == nil {
				c := *ex
				flow, flowReq, flowAns = &c, req, ans
				flow.Seen, flow.Errors = nil, nil
			}
			flow.Seen, flow.Errors = append(flow.Seen, ex.Seen...), append(flow.Errors, ex.Errors...)
			continue
		}
		pr.Seen = append(pr.Seen, ex.Seen...)
		seeExchange(&pf, kind, ex, req, ans)
	}
	if flow != nil {
		// In time order, so that where the request and the answer were
		// seen last is where they went last, whichever side of the DNAT.
		slices.SortStableFunc(flow.Seen, func(x, y decode.Sighting) int { return x.Time.Compare(y.Time) })
		pr.Seen = append(pr.Seen, flow.Seen...)
		seeExchange(&pf, kind, flow, flowReq, flowAns)
	}
	return pr, pf, true
}

// socketFacts fills in what the probe's socket said, and returns the echo
// id its packets carry; false for an mtu probe that did not run.
func (r *run) socketFacts(kind facts.ProbeKind, src netip.Addr, pr *Probe, pf *facts.ProbeFacts, exchanges []*decode.Exchange) (uint16, bool) {
	id := r.echo.ID
	switch kind {
	case facts.KindTCP:
		pf.Request = facts.Packet{Family: r.fam, Proto: "tcp", Src: src, Dst: r.dst, SPort: r.tcp.LocalPort, DPort: r.cfg.Port}
		pf.OK = r.tcpOK()
		pf.Socket = facts.SocketFacts{ConnErr: socketError(r.tcp.Err), Connected: r.tcp.Connected, Listener: r.existing}
		if r.listener != nil {
			pf.Socket.Delivered = ptr(r.arrived)
		}
		pr.Listener, pr.Delivered = pf.Socket.Listener, pf.Socket.Delivered
		if pf.OK {
			pr.RTTms = ptr(float64(r.tcp.RTT.Microseconds()) / 1000)
		}
	case facts.KindUDP:
		r.udpFacts(src, pr, pf)
	case facts.KindMTU:
		if r.mtu.size == 0 || !r.echoOK() {
			return 0, false
		}
		id = r.mtu.echo.ID
		pf.OK = len(r.mtu.echo.Replies) == r.cfg.Count
		pf.Socket = facts.SocketFacts{Count: r.cfg.Count, Sent: r.mtu.echo.Sent, Received: len(r.mtu.echo.Replies),
			SendErr: socketError(r.mtu.echo.SendErr), ICMPErr: r.mtu.echo.ICMPErr}
		pf.MTU = r.mtuFacts(exchanges)
		pr.Sent, pr.Received = pf.Socket.Count, pf.Socket.Received
	default:
		pf.OK = r.echoOK()
		pf.Socket = facts.SocketFacts{Count: r.cfg.Count, Sent: r.echo.Sent, Received: len(r.echo.Replies),
			SendErr: socketError(r.echo.SendErr), ICMPErr: r.echo.ICMPErr}
		pr.Sent, pr.Received = r.echo.Sent, len(r.echo.Replies)
		if pf.OK {
			pr.RTTms = r.echoRTT(exchanges)
		}
	}
	return id, true
}

// roles says whether exchange ex is the probe's, and which of its
// sightings are the probe's request and which its answer.
//
// Past a DNAT its packets carry the destination the kernel gave them
// (natTo): there the exchange is the same flow's, matched by that.
func (r *run) roles(kind facts.ProbeKind, ex *decode.Exchange, src netip.Addr, id uint16) (req, ans func(decode.Sighting) bool, ok bool) {
	none := func(decode.Sighting) bool { return false }
	if kind == facts.KindUDP {
		return r.udpRoles(ex, src)
	}
	dst := netip.AddrPortFrom(r.dst, r.cfg.Port)
	to, translated := r.natTo(kind)
	exDst := netip.AddrPortFrom(ex.DstAddr, ex.DstPort)
	switch {
	case kind == facts.KindTCP && ex.Kind == decode.ExchangeKind(kind) && ex.SrcAddr == src && ex.SrcPort == r.tcp.LocalPort && (exDst == dst || translated && exDst == to):
		return decode.Sighting.TCPConnect, func(s decode.Sighting) bool { a, _ := s.TCPAnswer(); return a }, true
	case kind != facts.KindTCP && ex.Kind == decode.ExchangeKind(r.echoKind()) && ex.ID != nil && *ex.ID == id && ex.SrcAddr == src:
		return func(s decode.Sighting) bool { return s.What == "request" }, func(s decode.Sighting) bool { return s.What == "reply" }, true
	case kind == facts.KindTCP && ex.Kind == decode.KindICMPError && r.ownTCP(ex, src):
		// An error about a segment of its connection whose exchange had
		// ended (a retransmission after the reset or the close).
		return none, none, true
	case kind != facts.KindTCP && ex.Kind == decode.KindICMPError && ex.ID != nil && *ex.ID == id &&
		(ex.SrcAddr == src && ex.DstAddr == r.dst || ex.SrcAddr == r.dst && ex.DstAddr == src):
		// An error about one of its echoes whose exchange had ended
		// (the reply seen on its way back, before a hop refused it).
		return none, none, true
	}
	return nil, nil, false
}

// seeExchange adds to pf where the probe's exchange ex was seen: its
// request and answer at each capture point, the kernel's drops, and the
// ICMP errors about it.
func seeExchange(pf *facts.ProbeFacts, kind facts.ProbeKind, ex *decode.Exchange, req, ans func(decode.Sighting) bool) {
	pf.Revisits = append(pf.Revisits, revisits(ex, req)...)
	for _, s := range ex.Seen {
		sight, ok := sightOf(s)
		switch {
		case !s.Drop.IsZero():
			ns, _ := capture.DropsNamespace(s.Point)
			kd := facts.KernelDropSeen{Namespace: ns, Reason: s.Drop.Reason, Location: s.Drop.Location,
				What: decode.PacketNoun(decode.ExchangeKind(kind), s.What)}
			kd.Stray = judge.Stray(*pf, kd)
			pf.Drops = append(pf.Drops, kd)
		case !ok:
		case req(s):
			pf.RequestSeen = append(pf.RequestSeen, sight)
		case ans(s):
			pf.AnswerSeen = append(pf.AnswerSeen, sight)
			if _, reset := s.TCPAnswer(); reset {
				pf.Refused = true
			}
		}
	}
	for _, e := range ex.Errors {
		from, _ := netip.ParseAddr(e.From)
		is := facts.ICMPSeen{From: from, Type: e.Type, Code: e.Code, Text: e.Text}
		for _, s := range ex.Seen {
			if sight, ok := sightOf(s); ok && s.What == e.Text {
				is.Seen = append(is.Seen, sight)
			}
		}
		pf.Errors = append(pf.Errors, is)
	}
}

// revisits are the request's packets of ex seen again at a capture point,
// in the direction they were seen there first, with a lower TTL: each
// point and direction once. Every request of a probe leaves with one TTL
// and, on one way, reaches a point with one TTL: a lower one there has
// been round. (Packet ids cannot tell: a packet seen again at a point is
// a new packet to them, as a retransmission is.)
func revisits(ex *decode.Exchange, req func(decode.Sighting) bool) []facts.Revisit {
	type at struct{ point, dir string }
	first := map[at]uint8{}
	var out []facts.Revisit
	for _, s := range ex.Seen {
		sight, ok := sightOf(s)
		if !ok || !s.Drop.IsZero() || !req(s) {
			continue
		}
		k := at{s.Point, s.Dir}
		ttl, seen := first[k]
		if !seen {
			first[k] = s.TTL
			continue
		}
		if s.TTL < ttl && !slices.ContainsFunc(out, func(r facts.Revisit) bool { return r.Sight == sight }) {
			out = append(out, facts.Revisit{Sight: sight, TTL: ttl, Again: s.TTL})
		}
	}
	return out
}

// ownTCP reports whether an exchange's ends are the TCP probe's
// connection, either way.
func (r *run) ownTCP(ex *decode.Exchange, src netip.Addr) bool {
	c := netip.AddrPortFrom(src, r.tcp.LocalPort)
	s := netip.AddrPortFrom(r.dst, r.cfg.Port)
	a, b := netip.AddrPortFrom(ex.SrcAddr, ex.SrcPort), netip.AddrPortFrom(ex.DstAddr, ex.DstPort)
	return r.tcp.LocalPort != 0 && (a == c && b == s || a == s && b == c)
}

// mtuFacts is what the mtu probe was sized by, and where its large
// requests went.
func (r *run) mtuFacts(exchanges []*decode.Exchange) *facts.MTUFacts {
	m := &facts.MTUFacts{Dev: r.mtu.dev, MTU: r.mtu.size, PathMTU: r.mtu.echo.PathMTU, Cached: r.mtu.cached, LastSeen: r.from.name}
	if err := r.mtu.echo.SendErr; err != nil {
		m.SendErr = err.Error()
	}
	if r.mtu.err != nil {
		m.SendErr = r.mtu.err.Error()
	}
	if r.mtu.echo.PathMTU > 0 {
		m.ErrFrom = r.mtu.echo.ICMPErr
	}
	for _, ifc := range r.from.info.Interfaces {
		if ifc.Name != m.Dev || ifc.Peer == nil {
			continue
		}
		m.PeerNS, m.Peer = ifc.Peer.Namespace, ifc.Peer.Interface
		for _, s := range []*side{r.to, r.from} {
			if s.name != ifc.Peer.Namespace {
				continue
			}
			for _, pi := range s.info.Interfaces {
				if pi.Name == ifc.Peer.Interface {
					m.PeerMTU = pi.MTU
				}
			}
		}
	}
	for _, ex := range exchanges {
		if ex.Kind != decode.ExchangeKind(r.echoKind()) || ex.ID == nil || *ex.ID != r.mtu.echo.ID {
			continue
		}
		for _, e := range ex.Errors {
			if m.TooBig == "" && len(ex.Seen) > 0 {
				m.TooBig = fmt.Sprintf("%s sent %s", e.From, e.Text)
			}
		}
		for _, s := range ex.Seen {
			if s.What == "request" && s.Drop.IsZero() {
				if ns, _, _ := cutPoint(s.Point); ns != "" {
					m.LastSeen = ns
				}
			}
		}
	}
	return m
}

// echoRTT is the mean round trip at the sender's capture point, from the
// kernel's timestamps: request Out to reply In. Without sightings it falls
// back to what the probe's socket measured.
func (r *run) echoRTT(exchanges []*decode.Exchange) *float64 {
	var sum time.Duration
	n := 0
	for _, ex := range exchanges {
		if ex.Kind != decode.ExchangeKind(r.echoKind()) || ex.ID == nil || *ex.ID != r.echo.ID {
			continue
		}
		var out, in time.Time
		for _, s := range ex.Seen {
			if ns, _, _ := strings.Cut(s.Point, "/"); ns != r.from.name {
				continue
			}
			switch {
			case s.What == "request" && s.Dir == "Out" && out.IsZero():
				out = s.Time
			case s.What == "reply" && s.Dir == "In" && in.IsZero():
				in = s.Time
			}
		}
		if !out.IsZero() && !in.IsZero() {
			sum += in.Sub(out)
			n++
		}
	}
	if n == 0 {
		for _, d := range r.echo.Replies {
			sum += d
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return ptr(float64((sum / time.Duration(n)).Microseconds()) / 1000)
}

func ptr[T any](v T) *T { return &v }

// sightOf splits a sighting's capture point NS/IFACE (NS may itself be a
// path) into a Sight.
func sightOf(s decode.Sighting) (facts.Sight, bool) {
	i := strings.LastIndex(s.Point, "/")
	if i <= 0 || !s.Drop.IsZero() {
		return facts.Sight{}, false
	}
	d := facts.DirIn
	switch s.Dir {
	case "In":
	case "Out":
		d = facts.DirOut
	default:
		return facts.Sight{}, false
	}
	return facts.Sight{Namespace: s.Point[:i], Iface: s.Point[i+1:], Dir: d}, true
}
