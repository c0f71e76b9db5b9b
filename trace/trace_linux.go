package trace

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/netfilter"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/vishvananda/netns"
)

// containerOf is the endpoint's container, if the namespace is one's.
func containerOf(ns *topology.Namespace) *Container {
	if ns == nil || ns.Container == nil {
		return nil
	}
	return &Container{Engine: ns.Container.Engine, Name: ns.Container.Name, ID: ns.Container.ID}
}

// side is one namespace as the trace sees it.
type side struct {
	name string
	ns   netns.NsHandle
	ts   *topology.Targets // that hold it, and the trace's other namespaces
	info *topology.Namespace
	// the kernel's protocol counters before and after the probes, and
	// why they could not be read
	before, after map[string]uint64
	countersErr   error
}

// counters reads the kernel's protocol counters of the side; the first
// error is kept for the facts' gaps.
func (s *side) counters() map[string]uint64 {
	c, err := s.ts.NetCounters(s.name)
	if err != nil && s.countersErr == nil {
		s.countersErr = err
	}
	return c
}

// Run captures both namespaces, probes both ways in every IP family both
// sides have, and explains each probe. Interrupted by ctx, it returns the
// error and, once capturing had begun, a Result holding only Points and
// Frames.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.WithDefaults()
	if cfg.Targets == nil {
		cfg.Targets = topology.NewTargets()
	}
	a, b, err := openSides(cfg)
	if err != nil {
		return nil, err
	}
	defer a.ns.Close()
	defer b.ns.Close()
	fams, err := chooseFamilies(cfg, a, b)
	if err != nil {
		return nil, err
	}
	w := newLiveWorld(cfg.Targets)
	defer w.close()
	pl, err := planRuns(cfg, w, a, b, fams)
	defer pl.close()
	if err != nil {
		return nil, err
	}
	runs := pl.runs
	var dns *dnsProbe
	if cfg.DNSName != "" {
		if dns, err = planDNS(cfg, a, b, runs); err != nil {
			return nil, err
		}
	}
	if !cfg.NoNFTrace {
		// Where a DNAT sends the probes, asked of the kernel: the paths go
		// on there, captured and traced (nat_linux.go).
		pl.followNAT(w, askNAT(ctx, cfg.Targets, pathNames(a, b, runs), runs))
	}
	nftables := startNFTraceAsync(ctx, cfg.NoNFTrace, pathNames(a, b, runs), runs, dns)
	defer func() { nftables().close() }()
	a.before, b.before = a.counters(), b.counters()
	between := pathNamespaces(a, b, runs)
	res, err := captureWhile(ctx, a, b, between, capturePoints(w, a, b, between, runs), func() {
		nftables() // its tables are made while the capture opens
		probe(ctx, runs, dns)
		a.after, b.after = a.counters(), b.counters()
	})
	if err != nil {
		return res, err // interrupted: what was captured, without verdicts, for -w
	}
	res.Path, res.Paths = pl.paths, pl.famPaths
	res.Facts = &facts.Facts{Lookups: pl.lookups}
	nft := nftables()
	res.NFTables = nft.tables()
	finished := nft.finishAsync(ctx) // while the capture is decoded
	err = res.gather(w, a, b, fams, runs, dns)
	<-finished
	if err != nil {
		return nil, err
	}
	nft.into(res.Facts)
	gatherEngines(ctx, res.Facts)
	defer showContainers(res.Facts)() // as a file's facts are judged again
	res.judgeAll()
	if res.DropsUnavailable == nil {
		res.attachKernelDrops()
	}
	return res, nil
}

// plan is what a trace sets up before its probes: each direction's run
// in every family, the paths found from kernel state, the route lookups
// made on the way, and the listeners it started.
type plan struct {
	runs       []*run
	paths      map[string][]facts.Hop // the first family's, by direction
	famPaths   []facts.FamilyPath
	lookups    []facts.Lookup
	listeners  []*listener
	responders []*responder
}

// planRuns discovers both directions' paths in every family and, unless
// told not to, listens on the port at both ends. The listeners started
// are in the plan even when it fails: close closes them.
func planRuns(cfg Config, w *liveWorld, a, b *side, fams []family) (*plan, error) {
	pl := &plan{paths: map[string][]facts.Hop{}}
	for _, f := range fams {
		// Each side probes from the very address the other probes, so that
		// both directions test one pair (the kernel's own choice of source
		// could be an address the other side has no route to).
		ab := &run{cfg: cfg, from: a, to: b, fam: f.v, dst: f.b, back: f.a, src: f.a}
		ba := &run{cfg: cfg, from: b, to: a, fam: f.v, dst: f.a, back: f.b}
		if slices.Contains(addresses(b, f.v), f.b) {
			ba.src = f.b // not a --to address B does not have
		}
		var lk []facts.Lookup
		ab.path, ba.path, lk, ab.pathCut, ba.pathCut = discoverPaths(w, a.name, b.name, f.a, f.b)
		ab.backPath, ba.backPath = ba.path, ab.path
		ab.backCut, ba.backCut = ba.pathCut, ab.pathCut
		pl.lookups = append(pl.lookups, lk...)
		if len(pl.paths) == 0 {
			pl.paths[ab.direction()], pl.paths[ba.direction()] = ab.path, ba.path
		}
		for _, r := range []*run{ab, ba} {
			pl.famPaths = append(pl.famPaths, facts.FamilyPath{Direction: r.direction(), Family: f.v, Hops: r.path, Truncated: r.pathCut})
		}
		if !cfg.NoListen {
			for _, r := range []*run{ab, ba} {
				l, existing, err := listenOrFind(r.to, f.v, cfg.Port)
				if err != nil {
					return pl, err
				}
				if l != nil {
					pl.listeners = append(pl.listeners, l)
				}
				r.listener, r.existing = l, existing
				if cfg.UDPPort == 0 {
					continue
				}
				u, existing, err := respondOrFind(r.to, f.v, cfg.UDPPort)
				if err != nil {
					return pl, err
				}
				if u != nil {
					pl.responders = append(pl.responders, u)
				}
				r.responder, r.udpExisting = u, existing
			}
		}
		pl.runs = append(pl.runs, ab, ba)
	}
	return pl, nil
}

// close closes the listeners the plan started.
func (pl *plan) close() {
	for _, l := range pl.listeners {
		l.Close()
	}
	for _, r := range pl.responders {
		r.Close()
	}
}

// openSides opens both namespaces.
func openSides(cfg Config) (a, b *side, err error) {
	for _, ns := range []string{cfg.From, cfg.To} {
		if err := topology.ValidateTarget(ns); err != nil {
			return nil, nil, err
		}
	}
	if cfg.From == cfg.To {
		return nil, nil, fmt.Errorf("trace needs two namespaces, got %q twice", cfg.From)
	}
	if a, err = openSide(cfg.Targets, cfg.From); err != nil {
		return nil, nil, err
	}
	if b, err = openSide(cfg.Targets, cfg.To); err != nil {
		a.ns.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// captureWhile captures the targets (every interface of both ends, and
// the interfaces of the namespaces between them that capturePoints
// chose) while work runs. Nothing is waited for after it: every packet a
// verdict reads came before an event a probe waited for (a reply reaches
// its socket only after every capture point on its way has copied it into
// its ring), and stopping drains what the rings hold.
func captureWhile(ctx context.Context, a, b *side, between []string, targets []capture.Target, work func()) (*Result, error) {
	// The drop monitor loads the kernel's BTF meanwhile.
	type opened struct {
		w   *dropWatch
		err error
	}
	dropsOpen := make(chan opened, 1)
	go func() { w, err := openDropWatch(a, b, between); dropsOpen <- opened{w, err} }()
	sess, err := capture.Open(targets, &capture.Config{PollTimeout: 50 * time.Millisecond, RingSize: traceRing, Targets: a.ts})
	dw := <-dropsOpen
	if err != nil {
		if dw.w != nil {
			dw.w.rec.Close()
		}
		return nil, err
	}
	res := &Result{Points: sess.Points(), DropsUnavailable: dw.err}
	if dw.w != nil {
		dw.w.start(ctx, res)
	}
	capCtx, stopCapture := context.WithCancel(ctx)
	capDone := make(chan error, 1)
	go func() {
		_, err := sess.Run(capCtx, 0, func(f capture.Frame) error {
			f.Data = bytes.Clone(f.Data) // the ring's memory, until Run goes on
			res.Frames = append(res.Frames, f)
			return nil
		}, nil)
		capDone <- err
	}()
	work()
	stopCapture()
	capErr := <-capDone
	// The capture merges its points' frames in time order only within a
	// short hold; on a loaded machine a late reader can hand a point's
	// frames over after another's later ones, and an answer decoded before
	// its request is lost to its exchange. The kernel's timestamps decide.
	slices.SortStableFunc(res.Frames, func(x, y capture.Frame) int { return x.Time.Compare(y.Time) })
	if dw.w != nil {
		if err := dw.w.stop(res); err != nil {
			return nil, err
		}
	}
	// Every sighting of one packet, the kernel's drop of it included, gets
	// one id: the JSON's sightings and the -w file's epb_packetid agree.
	ids := decode.NewPacketIDs()
	for i := range res.Frames {
		ids.Mark(&res.Frames[i])
	}
	if capErr != nil && !errors.Is(capErr, context.Canceled) {
		return nil, capErr
	}
	return res, ctx.Err()
}

// probe runs both directions' probes, and the dns probe, at once.
func probe(ctx context.Context, runs []*run, dns *dnsProbe) {
	var wg sync.WaitGroup
	if dns != nil {
		wg.Add(1)
		go func() { defer wg.Done(); dns.run(ctx, runs[0].cfg) }()
	}
	for _, r := range runs {
		r.mtu, r.arrived = mtuProbe{}, false // a round before this one's
		wg.Add(2)
		go func() {
			defer wg.Done()
			r.echo, r.echoErr = probeEcho(ctx, r.from.ns, r.src, r.dst, randomID(), r.cfg.Count, r.cfg.Timeout)
			// Large echoes only where small ones pass: they are judged
			// only then, and elsewhere they would spend the ICMP error
			// budget (rate-limited) of the hop that fails the small ones.
			if r.echoErr == nil && len(r.echo.Replies) == r.cfg.Count {
				r.probeMTU(ctx)
			}
		}()
		go func() { defer wg.Done(); r.tcpProbe(ctx) }()
		if r.cfg.UDPPort != 0 {
			wg.Add(1)
			go func() { defer wg.Done(); r.udpProbe(ctx) }()
		}
	}
	wg.Wait()
}

// run is one direction of the trace.
type run struct {
	cfg      Config
	from, to *side
	fam      int             // 4 or 6
	dst      netip.Addr      // the address of to that from probes
	back     netip.Addr      // the address of from that to probes back
	src      netip.Addr      // the address from's probes are bound to, if any
	listener *listener       // the one this trace started on to, if any
	existing *facts.Listener // what listened on to before the trace, if anything
	echo     echoResult
	echoErr  error
	tcp      tcpResult
	tcpErr   error
	mtu      mtuProbe
	msg      string
	arrived  bool
	// the udp probe: the responder trace started on to (or what was
	// bound there before), and what the sender's socket saw
	responder   *responder
	udpExisting *facts.Listener
	udp         udpResult
	udpErr      error
	// the way from's packets go to to, and to's answers back
	path, backPath []facts.Hop
	// path (backPath) goes on past MaxHops namespaces
	pathCut, backCut bool
	// nat are the ways of the probes whose flow a DNAT sent elsewhere, by
	// IP protocol (nat_linux.go)
	nat map[uint8]*natWay
}

func (r *run) tcpProbe(ctx context.Context) {
	r.msg = fmt.Sprintf("nsdump trace %s->%s %08x\n", r.from.name, r.to.name, randomID())
	dst := netip.AddrPortFrom(r.dst, r.cfg.Port)
	r.tcp, r.tcpErr = probeTCP(ctx, r.from.ns, r.src, dst, r.msg, r.cfg.Timeout, r.listener != nil)
	if r.tcp.Connected && r.listener != nil && r.nat[netfilter.ProtoTCP] == nil {
		// Past a DNAT the message goes to what listens behind it, never
		// to trace's listener: not waited for.
		r.arrived = r.listener.received(ctx, r.msg, r.cfg.Timeout)
	}
}

func randomID() uint16 {
	var b [2]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

func openSide(ts *topology.Targets, name string) (*side, error) {
	info, err := ts.Inspect(name)
	if err != nil {
		return nil, err
	}
	ns, err := ts.OpenNamespace(name)
	if err != nil {
		return nil, err
	}
	return &side{name: name, ns: ns, info: info, ts: ts}, nil
}

// pathNamespaces are the namespaces the runs' paths cross besides a and b,
// each once, in path order.
func pathNamespaces(a, b *side, runs []*run) []string {
	var out []string
	for _, r := range runs {
		for _, h := range r.hops() {
			if h.Namespace != a.name && h.Namespace != b.name && !slices.Contains(out, h.Namespace) {
				out = append(out, h.Namespace)
			}
		}
	}
	return out
}
