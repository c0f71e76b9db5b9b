package trace

import (
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// evidence is what the captures saw of one probe.
type evidence struct {
	seen                   []decode.Sighting
	leftSender, reachedDst bool // the request
	replyLeft, replyBack   bool // the answer
}

func (r *run) direction() string { return r.from.name + "->" + r.to.name }

// diagnose turns one direction's two probes into verdicts.
func diagnose(r *run, exchanges []*decode.Exchange) []Probe {
	r.exchanges = exchanges
	echo := Probe{Direction: r.direction(), Kind: r.echoKind(), Family: r.fam, Sent: r.echo.Sent, Received: len(r.echo.Replies)}
	ev := r.echoEvidence(exchanges)
	echo.Seen = ev.seen
	if r.echo.Sent == r.cfg.Count && len(r.echo.Replies) == r.cfg.Count {
		echo.OK, echo.Cause, echo.Namespace = true, CauseOK, r.from.name
		echo.RTTms = r.echoRTT(exchanges)
		echo.Detail = fmt.Sprintf("%d/%d echo replies", len(r.echo.Replies), r.cfg.Count)
	} else {
		r.explain(&echo, ev, r.echo.SendErr, nil)
		if echo.Detail == "" {
			echo.Detail = fmt.Sprintf("%d/%d echo replies", len(r.echo.Replies), r.cfg.Count)
		}
	}

	tcp := Probe{Direction: r.direction(), Kind: decode.KindTCPConn, Family: r.fam, Listener: r.existing}
	tev := r.tcpEvidence(exchanges)
	tcp.Seen = tev.seen
	if r.listener != nil {
		tcp.Delivered = ptr(r.arrived)
	}
	switch {
	case r.tcp.Connected && (r.listener == nil || r.arrived):
		tcp.OK, tcp.Cause, tcp.Namespace = true, CauseOK, r.from.name
		tcp.RTTms = ptr(float64(r.tcp.RTT.Microseconds()) / 1000)
		tcp.Detail = fmt.Sprintf("connected to %s", netip.AddrPortFrom(r.dst, r.cfg.Port))
		if r.listener != nil {
			tcp.Detail += ", test message delivered"
		}
		if r.existing != nil {
			tcp.Detail += fmt.Sprintf(", to what already listened there: %s", r.existing)
		}
	case r.tcp.Connected:
		tcp.Cause, tcp.Namespace = CauseDropped, r.to.name
		tcp.RouteGet = r.lookupBack()
		tcp.Detail = "connected, but the test message never reached the listener"
	default:
		r.explain(&tcp, tev, r.tcp.Err, r.tcp.Err)
	}
	return []Probe{echo, tcp}
}

// explain fills the cause of a failed probe. sendErr is what the sender's
// socket said, connErr a TCP connect's error.
func (r *run) explain(p *Probe, ev evidence, sendErr, connErr error) {
	s, d := r.from, r.to
	rg, res := lookup(s.name, topology.RouteQuery{Dst: r.dst})
	// A link set down also takes its routes away: blame the link first.
	dev := ""
	if res != nil {
		dev = res.Dev
	}
	if r.wrongRoute(p, ev, rg, res) {
		return
	}
	if ns, name, ok := r.linkDown(dev); !ok {
		p.Cause, p.Namespace, p.RouteGet = CauseLinkDown, ns, rg
		p.Detail = fmt.Sprintf("%s in %s is down", name, ns)
		p.Fix = fmt.Sprintf("ip -n %s link set %s up", ns, name)
		here, other := s, d
		if ns != s.name {
			here, other = d, s
			p.RouteGet = r.lookupBack()
		}
		if !p.RouteGet.OK {
			// Setting the link down flushed the routes through it.
			addr := r.dst
			if here == d {
				addr = r.srcAddr()
			}
			if add := routeFix(here, other, addr); add != "" {
				p.Fix += " && " + add
				p.Detail += ", and its routes went down with it"
			}
		}
		return
	}
	if !rg.OK {
		p.Cause, p.Namespace, p.RouteGet = CauseNoRoute, s.name, rg
		p.Detail = fmt.Sprintf("%s has no route to %s: nothing leaves it", s.name, r.dst)
		if br := blockingRoute(s.name, r.dst); br != nil {
			p.Detail = fmt.Sprintf("%s's route to %s is %q (%s): nothing leaves it", s.name, r.dst, br.String(), rg.Output)
		}
		p.Fix = routeFix(s, d, r.dst)
		return
	}
	if isErrno(connErr, unix.ECONNREFUSED) {
		p.Cause, p.Namespace, p.RouteGet = CausePortClosed, d.name, r.lookupBack()
		p.Detail = fmt.Sprintf("%s answered the SYN to port %d with a reset: nothing listens there", d.name, r.cfg.Port)
		nc := "nc -l"
		if r.fam == 6 {
			nc = "nc -6 -l"
		}
		p.Fix = fmt.Sprintf("%s %s %d", topology.ExecPrefix(d.name), nc, r.cfg.Port)
		return
	}
	hop := r.dst
	if res.Gateway != "" {
		hop, _ = netip.ParseAddr(res.Gateway)
	}
	if r.neighborFailed(hop, sendErr) && !ev.reachedDst {
		p.Cause, p.Namespace, p.RouteGet = CauseNeighbor, s.name, rg
		p.Detail = fmt.Sprintf("%s for %s on %s from %s got no answer", r.resolution(), hop, res.Dev, s.name)
		switch owner := ownerOf(r, hop); {
		case owner == "":
			p.Detail += fmt.Sprintf("; no interface in %s or %s has that address", s.name, d.name)
		case owner == d.name && r.resolutionSeen(hop, "In", func(pt string) bool { return strings.HasPrefix(pt, d.name+"/") }):
			// The owner saw the question and kept silent: the cause is there.
			p.Namespace, p.RouteGet = d.name, r.lookupBack()
			p.Detail += fmt.Sprintf("; the request reached %s, which owns %s and did not answer: %s", d.name, hop, whyDropped(d))
		}
		return
	}
	if ev.reachedDst {
		back := r.lookupBack()
		if !back.OK {
			p.Cause, p.Namespace, p.RouteGet = CauseNoReturnRoute, d.name, back
			p.Detail = fmt.Sprintf("the request reached %s, which has no route back to %s", d.name, r.srcAddr())
			if br := blockingRoute(d.name, r.srcAddr()); br != nil {
				p.Detail += fmt.Sprintf(": its route there is %q", br.String())
			}
			p.Fix = routeFix(d, s, r.srcAddr())
			return
		}
		if r.wrongRouteBack(p, ev) {
			return
		}
		p.Cause, p.RouteGet = CauseDropped, back
		if ev.replyBack {
			p.Namespace, p.RouteGet = s.name, rg
			p.Detail = fmt.Sprintf("the answer came back into %s but never reached the probe: %s", s.name, whyDropped(s))
			return
		}
		p.Namespace = d.name
		p.Detail = fmt.Sprintf("the request reached %s, which has a route back, yet nothing answered: %s", d.name, whyDropped(d))
		return
	}
	p.Cause, p.Namespace, p.RouteGet = CauseDropped, s.name, rg
	if ev.leftSender {
		p.Detail = fmt.Sprintf("the request left %s but never reached %s", s.name, d.name)
	} else {
		p.Detail = fmt.Sprintf("the request never left %s: %s", s.name, whyDropped(s))
	}
}

// resolutionSeen reports whether a neighbour resolution (ARP who-has, or
// an NDP neighbor solicitation on IPv6) for target was seen going dir at a
// capture point that at accepts.
func (r *run) resolutionSeen(target netip.Addr, dir string, at func(point string) bool) bool {
	kind, ask := decode.KindARPRes, "who-has"
	if r.fam == 6 {
		kind, ask = decode.KindNDP, "neighbor solicitation"
	}
	for _, ex := range r.exchanges {
		if ex.Kind != kind || ex.Dst != target.String() {
			continue
		}
		for _, s := range ex.Seen {
			if s.Dir == dir && s.What == ask && at(s.Point) {
				return true
			}
		}
	}
	return false
}

// srcAddr is the source address of the sender's probes: the one they are
// bound to, else the one its route to the destination picks, else the
// address the other side probes back.
func (r *run) srcAddr() netip.Addr {
	if r.src.IsValid() {
		return r.src
	}
	if _, res := lookup(r.from.name, topology.RouteQuery{Dst: r.dst}); res != nil && res.Src != "" {
		if a, err := netip.ParseAddr(res.Src); err == nil {
			return a
		}
	}
	return r.back
}

// echoKind is the exchange kind of the family's echo.
func (r *run) echoKind() string {
	if r.fam == 6 {
		return decode.KindEcho6
	}
	return decode.KindEcho
}

// resolution names the family's neighbour resolution.
func (r *run) resolution() string {
	if r.fam == 6 {
		return "neighbour discovery (NDP)"
	}
	return "ARP"
}

// lookupBack is the receiver's route back to the sender's address.
func (r *run) lookupBack() *RouteGet {
	rg, _ := lookup(r.to.name, topology.RouteQuery{Dst: r.srcAddr()})
	return rg
}

func lookup(ns string, q topology.RouteQuery) (*RouteGet, *topology.RouteResult) {
	six := ""
	if q.Dst.Is6() {
		six = " -6"
	}
	rg := &RouteGet{Namespace: ns, Command: fmt.Sprintf("%s%s route get %s", topology.IPCommand(ns), six, q.Dst)}
	res, err := topology.RouteGet(ns, q)
	if err != nil {
		rg.Output = err.Error()
		return rg, nil
	}
	rg.OK, rg.Output = true, res.Line
	return rg, res
}

// linkDown checks the sender's output interface and the one facing the
// receiver, with their veth peers; it returns the first one down.
func (r *run) linkDown(dev string) (ns, name string, ok bool) {
	for _, ifc := range r.from.info.Interfaces {
		facing := ifc.Peer != nil && ifc.Peer.Namespace == r.to.name
		if ifc.Name != dev && !facing {
			continue
		}
		if !ifc.Up {
			return r.from.name, ifc.Name, false
		}
		if ifc.Peer == nil {
			continue
		}
		for _, s := range []*side{r.to, r.from} {
			if s.name != ifc.Peer.Namespace {
				continue
			}
			for _, peer := range s.info.Interfaces {
				if peer.Name == ifc.Peer.Interface && !peer.Up {
					return s.name, peer.Name, false
				}
			}
		}
	}
	return "", "", true
}

// neighborFailed: the sender's socket said the host is unreachable, or its
// neighbour table holds a failed entry for the next hop.
func (r *run) neighborFailed(hop netip.Addr, sendErr error) bool {
	if isErrno(sendErr, unix.EHOSTUNREACH) {
		return true
	}
	state, err := topology.NeighborState(r.from.name, hop)
	return err == nil && (state == "FAILED" || state == "INCOMPLETE")
}

func ownerOf(r *run, a netip.Addr) string {
	for _, s := range []*side{r.from, r.to} {
		for _, ifc := range s.info.Interfaces {
			for _, p := range ifc.Addresses {
				if pp, err := netip.ParsePrefix(p); err == nil && pp.Addr() == a {
					return s.name
				}
			}
		}
	}
	return ""
}

// whyDropped looks at what drops packets that arrive: the kernel's own
// drop counters that grew during the probes, nftables rules that drop or
// reject, and strict reverse-path filtering.
func whyDropped(s *side) string {
	var reasons []string
	if grew := kernelDrops(s); grew != "" {
		reasons = append(reasons, "kernel counters in "+s.name+": "+grew)
	}
	nft := append(strings.Fields(topology.ExecPrefix(s.name)), "nft", "list", "ruleset")
	if out, err := exec.Command(nft[0], nft[1:]...).Output(); err == nil {
		var drops []string
		for _, line := range strings.Split(string(out), "\n") {
			if l := strings.TrimSpace(line); strings.HasSuffix(l, " drop") || strings.HasSuffix(l, " reject") || l == "drop" {
				drops = append(drops, l)
			}
		}
		if len(drops) > 0 {
			reasons = append(reasons, fmt.Sprintf("nftables in %s: %s (%s nft list ruleset)", s.name, strings.Join(drops, "; "), topology.ExecPrefix(s.name)))
		}
	}
	for _, ifc := range append([]string{"all"}, interfaceNames(s)...) {
		if v, err := topology.Sysctl(s.name, "net/ipv4/conf/"+ifc+"/rp_filter"); err == nil && strings.TrimSpace(v) == "1" {
			reasons = append(reasons, fmt.Sprintf("strict rp_filter (net.ipv4.conf.%s.rp_filter=1)", ifc))
		}
	}
	if len(reasons) == 0 {
		return "no firewall rule, rp_filter or kernel drop counter found to blame"
	}
	return strings.Join(reasons, "; ")
}

func interfaceNames(s *side) []string {
	var out []string
	for _, ifc := range s.info.Interfaces {
		if ifc.Name != "lo" {
			out = append(out, ifc.Name)
		}
	}
	return out
}

// kernelDrops lists the namespace's drop and error counters that grew while
// the probes ran ("TcpExt:IPReversePathFilter +3"), the kernel's own word on
// where packets went.
func kernelDrops(s *side) string {
	var grew []string
	for k, after := range s.after {
		name := k[strings.Index(k, ":")+1:]
		if !dropCounter(name) {
			continue
		}
		if d := after - s.before[k]; d > 0 && after >= s.before[k] {
			grew = append(grew, fmt.Sprintf("%s +%d", k, d))
		}
	}
	sort.Strings(grew)
	return strings.Join(grew, ", ")
}

func dropCounter(name string) bool {
	for _, w := range []string{"Drop", "Discard", "Err", "NoRoutes", "ReversePath", "Unknown", "Fail", "Overflow", "Unreachs"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func (r *run) echoEvidence(exchanges []*decode.Exchange) evidence {
	var ev evidence
	for _, ex := range exchanges {
		if ex.Kind != r.echoKind() || ex.ID == nil || *ex.ID != r.echo.ID || ex.Src != r.srcAddr().String() {
			continue
		}
		r.collect(&ev, ex, "request", "reply")
	}
	return ev
}

func (r *run) tcpEvidence(exchanges []*decode.Exchange) evidence {
	var ev evidence
	src := netip.AddrPortFrom(r.srcAddr(), r.tcp.LocalPort).String()
	dst := netip.AddrPortFrom(r.dst, r.cfg.Port).String()
	for _, ex := range exchanges {
		if ex.Kind == decode.KindTCPConn && ex.Src == src && ex.Dst == dst {
			r.collect(&ev, ex, "[S]", "[S.]")
		}
	}
	return ev
}

// collect adds an exchange's sightings and notes where the request and the
// answer were seen.
func (r *run) collect(ev *evidence, ex *decode.Exchange, request, answer string) {
	for _, s := range ex.Seen {
		ev.seen = append(ev.seen, s)
		ns, _, _ := strings.Cut(s.Point, "/")
		req, ans := strings.HasPrefix(s.What, request), strings.HasPrefix(s.What, answer) || s.What == "[R.]"
		switch {
		case req && ns == r.from.name && s.Dir == "Out":
			ev.leftSender = true
		case req && ns == r.to.name && s.Dir == "In":
			ev.reachedDst = true
		case ans && ns == r.to.name && s.Dir == "Out":
			ev.replyLeft = true
		case ans && ns == r.from.name && s.Dir == "In":
			ev.replyBack = true
		}
	}
}

// echoRTT is the mean round trip at the sender's capture point, from the
// kernel's timestamps: request Out to reply In. Without sightings it falls
// back to what the probe's socket measured.
func (r *run) echoRTT(exchanges []*decode.Exchange) *float64 {
	var sum time.Duration
	n := 0
	for _, ex := range exchanges {
		if ex.Kind != r.echoKind() || ex.ID == nil || *ex.ID != r.echo.ID {
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
