package trace

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/nsdump/nsdump/internal/shellwords"
	"github.com/nsdump/nsdump/netfilter"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/vishvananda/netns"
)

// nfTracing asks the kernel what netfilter did to the probes: a
// netfilter.Tracer in every namespace on the paths while they run, then
// the decisions of the traced packets and the probe flows' conntrack
// entries, as facts.
type nfTracing struct {
	spaces []*nfSpace
	gaps   []facts.Gap
}

// nfSpace is tracing in one namespace.
type nfSpace struct {
	name   string
	ts     *topology.Targets // that hold it
	ns     netns.NsHandle    // opened here, closed by close
	probes []netfilter.Probe
	tracer *netfilter.Tracer
	gaps   []facts.Gap
	// read after the probes
	decisions []facts.NFDecision
	entries   []facts.ConntrackEntry
}

// startNFTrace starts a tracer in each namespace of names (a bridge
// family table too where a path bridges), for the runs' probe flows, all
// at once. What cannot be traced becomes a gap.
func startNFTrace(ctx context.Context, names []string, runs []*run, dns *dnsProbe) *nfTracing {
	probes := nfProbes(runs, dns)
	tr := &nfTracing{}
	for _, name := range names {
		tr.spaces = append(tr.spaces, &nfSpace{name: name, ts: runs[0].cfg.Targets, probes: probes, ns: -1})
	}
	var wg sync.WaitGroup
	for _, s := range tr.spaces {
		wg.Add(1)
		go func() { defer wg.Done(); s.start(ctx, bridges(runs, s.name)) }()
	}
	wg.Wait()
	return tr
}

func (s *nfSpace) start(ctx context.Context, bridge bool) {
	ns, err := s.ts.OpenNamespace(s.name)
	if err != nil {
		s.gap("nftables trace", err)
		return
	}
	s.ns = ns
	t, err := netfilter.Start(ctx, netfilter.Namespace{Handle: ns, Name: s.name}, s.probes, &netfilter.Config{Bridge: bridge, Conntrack: true})
	if err != nil {
		s.gap("nftables trace", err)
		return
	}
	s.tracer = t
}

// gap records evidence that could not be read; a netfilter.Unreadable
// names its own.
func (s *nfSpace) gap(what string, err error) {
	var u *netfilter.Unreadable
	if errors.As(err, &u) {
		what, err = u.What, u.Err
	}
	s.gaps = append(s.gaps, facts.Gap{What: what, Namespace: s.name, Error: err.Error()})
}

// nfProbes are the flows the runs' probes use: echoes (the mtu probe's
// too) and TCP connections to the port (UDP datagrams to its udp port, the
// dns probe's query), from the address each is bound to, and past a DNAT
// the same flows to the destination it gave them.
func nfProbes(runs []*run, dns *dnsProbe) []netfilter.Probe {
	var out []netfilter.Probe
	if dns != nil {
		if src := dns.src(); src.IsValid() {
			out = append(out, netfilter.Probe{Src: src, Dst: dns.server, Proto: netfilter.ProtoUDP, DstPort: 53})
		}
	}
	for _, r := range runs {
		src, icmp := r.probeSrc(), r.icmpProto()
		out = append(out,
			netfilter.Probe{Src: src, Dst: r.dst, Proto: icmp},
			netfilter.Probe{Src: src, Dst: r.dst, Proto: netfilter.ProtoTCP, DstPort: r.cfg.Port})
		if r.cfg.UDPPort != 0 {
			out = append(out, netfilter.Probe{Src: src, Dst: r.dst, Proto: netfilter.ProtoUDP, DstPort: r.cfg.UDPPort})
		}
		if w := r.nat[icmp]; w != nil {
			out = append(out, netfilter.Probe{Src: src, Dst: w.to.Addr(), Proto: icmp})
		}
		if w := r.nat[netfilter.ProtoTCP]; w != nil {
			out = append(out, netfilter.Probe{Src: src, Dst: w.to.Addr(), Proto: netfilter.ProtoTCP, DstPort: w.to.Port()})
		}
	}
	return out
}

// bridges says whether a path bridges in ns.
func bridges(runs []*run, ns string) bool {
	for _, r := range runs {
		if slices.ContainsFunc(r.hops(), func(h facts.Hop) bool { return h.Namespace == ns && h.Role == facts.RoleBridge }) {
			return true
		}
	}
	return false
}

// tables names nsdump's tables, for the output's one line.
func (tr *nfTracing) tables() []string {
	var out []string
	for _, s := range tr.spaces {
		if s.tracer == nil {
			continue
		}
		for _, tb := range s.tracer.Tables() {
			out = append(out, tb.String()+" in "+s.name)
		}
	}
	return out
}

// startNFTraceAsync starts tracing (startNFTrace) on a goroutine of its
// own, so that its tables are made while the capture opens; the function
// it returns waits for it. Off, it is a tracing of nothing whose gap says
// so.
func startNFTraceAsync(ctx context.Context, off bool, names []string, runs []*run, dns *dnsProbe) func() *nfTracing {
	started := make(chan *nfTracing, 1)
	if off {
		started <- &nfTracing{gaps: []facts.Gap{{What: facts.GapNFTrace, Error: "turned off (--no-nftrace)"}}}
	} else {
		go func() { started <- startNFTrace(ctx, names, runs, dns) }()
	}
	var once sync.Once
	var tr *nfTracing
	return func() *nfTracing {
		once.Do(func() { tr = <-started })
		return tr
	}
}

// finishAsync removes the tables (each Close waits out an RCU grace
// period: all at once), then reads what the kernel said; the channel is
// closed when it is done.
func (tr *nfTracing) finishAsync(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, s := range tr.spaces {
			wg.Add(1)
			go func() { defer wg.Done(); s.finish(ctx) }()
		}
		wg.Wait()
	}()
	return done
}

// into adds what finishAsync read to the facts.
func (tr *nfTracing) into(f *facts.Facts) {
	f.Gaps = append(f.Gaps, tr.gaps...)
	for _, s := range tr.spaces {
		if s.tracer != nil {
			f.NFTraced = append(f.NFTraced, s.name)
		}
		f.NFTrace = append(f.NFTrace, s.decisions...)
		f.Conntrack = append(f.Conntrack, s.entries...)
		f.Gaps = append(f.Gaps, s.gaps...)
	}
}

// close removes whatever tables are left and releases the namespaces;
// safe after finish.
func (tr *nfTracing) close() {
	var wg sync.WaitGroup
	for _, s := range tr.spaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.tracer != nil {
				s.tracer.Close()
			}
			if s.ns >= 0 {
				s.ns.Close()
			}
		}()
	}
	wg.Wait()
}

func (s *nfSpace) finish(ctx context.Context) {
	if s.tracer == nil {
		return
	}
	if err := s.tracer.Close(); err != nil {
		s.gap("nftables trace cleanup", err)
	}
	evs, err := s.tracer.Events()
	if err != nil {
		s.gap("nftables trace", err)
	}
	s.decide(ctx, netfilter.Packets(evs))
	seen, err := s.tracer.Conntrack()
	if err != nil {
		s.gap("conntrack events", err)
	}
	left, err := netfilter.ConntrackEntries(netfilter.Namespace{Handle: s.ns, Name: s.name}, s.probes)
	if err != nil {
		s.gap("conntrack", err)
	}
	for _, c := range mergeConntrack(seen, left) {
		s.entries = append(s.entries, conntrackEntry(s.name, c))
	}
}

// mergeConntrack keeps each flow once: the table's entry over the events'.
func mergeConntrack(seen, left []netfilter.Conntrack) []netfilter.Conntrack {
	out := slices.Clone(left)
	for _, c := range seen {
		if !slices.ContainsFunc(out, func(o netfilter.Conntrack) bool { return o.Original == c.Original }) {
			out = append(out, c)
		}
	}
	return out
}

func conntrackEntry(ns string, c netfilter.Conntrack) facts.ConntrackEntry {
	tuple := func(t netfilter.Tuple) facts.Tuple {
		return facts.Tuple{Src: t.Src, Dst: t.Dst, Proto: t.Proto, SPort: t.SrcPort, DPort: t.DstPort}
	}
	return facts.ConntrackEntry{Namespace: ns, Original: tuple(c.Original), Reply: tuple(c.Reply),
		Status: c.Status.String(), TCPState: c.TCPState, Destroyed: c.Destroyed}
}

// decide turns the packets' walks into decisions: every walk that did not
// accept (a drop, a queue) and every NAT rule that took a packet, with
// the rule as written. Reading rule texts costs a listing per chain: only
// those are read.
func (s *nfSpace) decide(ctx context.Context, pkts []netfilter.Packet) {
	var rules *netfilter.Rules
	defer func() {
		if rules != nil {
			rules.Close()
		}
	}()
	for _, pkt := range pkts {
		answer, ok := s.direction(pkt.Header)
		if pkt.Header.ND() {
			answer, ok = false, true // neither way of a probe: its ND type says what it was
		}
		if !ok {
			continue
		}
		for _, w := range pkt.Walks {
			if w.Decided == nil || !notable(w) {
				continue
			}
			d := decision(s.name, answer, pkt.Header, w)
			if i := slices.IndexFunc(s.decisions, func(o facts.NFDecision) bool { return sameDecision(d, o) }); i >= 0 {
				s.decisions[i].Count++
				continue
			}
			if rules == nil {
				var err error
				if rules, err = netfilter.NewRules(netfilter.Namespace{Handle: s.ns, Name: s.name}); err != nil {
					s.gap("nftables rules", err)
					return
				}
			}
			r, err := rules.Decision(ctx, w)
			if err != nil {
				s.gap("nftables rules", err)
			} else {
				d.Rule, d.Xtables, d.WrittenBy = r.Text, r.Xtables, writtenBy(r)
				if r.Xtables {
					d.Rule, d.Spec = r.Command(), iptablesSpec(r)
				}
			}
			s.decisions = append(s.decisions, d)
		}
	}
}

// iptablesSpec is an iptables-nft rule's words after `-A CHAIN`, as the
// shell reads iptables-save's line (it quotes what needs it); nil for a
// policy or a line that does not read so.
func iptablesSpec(r netfilter.Rule) []string {
	words := strings.Fields(r.Text)
	if strings.ContainsAny(r.Text, `"'\`) {
		// Quoted words (a comment): the shell's reading. Unquoted, the
		// line is its fields ("!" included, which the strict reader
		// refuses as the shell's negation).
		cmds, err := shellwords.Parse(r.Text)
		if err != nil || len(cmds) != 1 {
			return nil
		}
		words = cmds[0]
	}
	if len(words) < 3 || words[0] != "-A" || words[1] != r.Chain {
		return nil
	}
	return words[2:]
}

// notable says whether a walk is worth a fact: it did not accept, or a
// NAT rule took the packet.
func notable(w netfilter.Traversal) bool {
	if w.Verdict.Kind != netfilter.VerdictAccept {
		return true
	}
	// A trace event does not say a chain's type: iptables' nat table, and
	// the names nft users give nat chains, tell it.
	return w.Decided.Type == netfilter.EventRule && (w.Table == "nat" || w.Base == "prerouting" || w.Base == "postrouting")
}

// direction says whether h is a probe's answer; false when it belongs to
// no probe.
//
// Both ends probe each other by the same addresses, so a packet matches
// one probe forward and the other's reply way: a request to either is
// forward (echoes by their type, connections by the port probed).
func (s *nfSpace) direction(h netfilter.Header) (answer, ok bool) {
	for _, p := range s.probes {
		dir, match := p.Match(h)
		if !match {
			continue
		}
		ok = true
		if h.Proto == netfilter.ProtoICMP || h.Proto == netfilter.ProtoICMPv6 {
			return h.ICMPType == 0 || h.ICMPType == 129, true // echo reply
		}
		if dir == netfilter.Forward {
			return false, true
		}
	}
	return ok, ok
}

func decision(ns string, answer bool, h netfilter.Header, w netfilter.Traversal) facts.NFDecision {
	d := w.Decided
	nd := facts.NFDecision{Namespace: ns, Answer: answer, Src: h.Src, Dst: h.Dst, Proto: h.Proto, SPort: h.SrcPort, DPort: h.DstPort,
		Family: d.Family.String(), Table: d.Table, Base: w.Base, Chain: d.Chain, Handle: d.Handle,
		Verdict: w.Verdict.Kind.String(), Policy: w.Policy(), Path: slices.Clone(w.Path), Count: 1}
	if h.ND() {
		nd.ND = h.ICMPType
	}
	return nd
}

// sameDecision says whether two decisions are one rule taking one flow's
// packets.
func sameDecision(d, o facts.NFDecision) bool {
	return d.Namespace == o.Namespace && d.Answer == o.Answer && d.Src == o.Src && d.Dst == o.Dst && d.Proto == o.Proto &&
		d.DPort == o.DPort && d.SPort == o.SPort && d.Family == o.Family && d.Table == o.Table && d.Chain == o.Chain &&
		d.Handle == o.Handle && d.Verdict == o.Verdict && d.Policy == o.Policy && d.ND == o.ND
}
