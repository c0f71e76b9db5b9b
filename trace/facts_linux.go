package trace

import (
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
)

// gatherRules reads the nftables ruleset of ns (every family), or nothing
// when nft is missing or the namespace has none.
func gatherRules(ns string) []Rule {
	prefix := strings.Fields(topology.ExecPrefix(ns))
	js, err := exec.Command(prefix[0], append(prefix[1:], "nft", "-j", "list", "ruleset")...).Output()
	if err != nil {
		return nil
	}
	rules, _ := parseRuleset(ns, js)
	return rules
}

// judgePaths gathers the facts of every path that crosses other
// namespaces than its ends and judges its failed probes there: the
// namespace where the packet was last seen is blamed.
func (res *Result) judgePaths(w *liveWorld, runs []*run) {
	var names []string
	for _, r := range runs {
		for _, h := range append(slices.Clone(r.path), r.backPath...) {
			if !slices.Contains(names, h.Namespace) {
				names = append(names, h.Namespace)
			}
		}
	}
	for _, ns := range names {
		if st := w.state(ns); st != nil {
			res.Facts.Namespaces = append(res.Facts.Namespaces, st)
		}
	}
	if !res.OK {
		// Only a failure is judged by rules: nft runs then, in every
		// namespace at once.
		rules := make([][]Rule, len(names))
		var wg sync.WaitGroup
		for i, ns := range names {
			wg.Add(1)
			go func() { defer wg.Done(); rules[i] = gatherRules(ns) }()
		}
		wg.Wait()
		for _, rs := range rules {
			res.Facts.Rules = append(res.Facts.Rules, rs...)
		}
	}
	for _, r := range runs {
		if !multiHop(r.path) && !multiHop(r.backPath) {
			continue
		}
		for i := range res.Probes {
			p := &res.Probes[i]
			if p.Direction != r.direction() || p.Family != r.fam || p.Kind == KindMTU {
				continue // the mtu probe has its own judgement
			}
			pf := r.probeFacts(p.Kind, res.Facts, res.Report.Exchanges)
			pf.OK = p.OK
			res.Facts.Probes = append(res.Facts.Probes, pf)
			// A route that leaves the sender away from the veth into the
			// destination is wrong whatever lies past it.
			if p.OK || p.Cause == CauseWrongRoute {
				continue
			}
			if v, ok := judge(res.Facts, pf); ok {
				p.Cause, p.Namespace, p.Detail, p.Fix = v.Cause, v.Namespace, v.Detail, v.Fix
				if v.RouteGet != nil {
					p.RouteGet = &RouteGet{Namespace: v.RouteGet.Namespace, Command: v.RouteGet.Command, OK: v.RouteGet.OK, Output: v.RouteGet.Output}
				}
			}
			if note := truncatedNote(pf); note != "" {
				p.Detail += "; " + note
			}
		}
	}
}

// multiHop reports whether a path crosses a namespace besides its ends.
func multiHop(path []Hop) bool {
	return slices.ContainsFunc(path, func(h Hop) bool { return h.Role == RoleBridge || h.Role == RoleRouter })
}

// probeFacts is what the captures saw of one probe of r, placed by
// namespace and interface.
func (r *run) probeFacts(kind string, f *Facts, exchanges []*decode.Exchange) ProbeFacts {
	src := r.srcAddr()
	pf := ProbeFacts{Direction: r.direction(), Kind: kind, Family: r.fam, Path: r.path, Back: r.backPath,
		PathTruncated: r.pathCut, BackTruncated: r.backCut, RequestSeen: []Sight{}, AnswerSeen: []Sight{}}
	proto := "icmp"
	if r.fam == 6 {
		proto = "ipv6-icmp"
	}
	if kind == decode.KindTCPConn {
		pf.Request = Packet{Family: r.fam, Proto: "tcp", Src: src, Dst: r.dst, SPort: r.tcp.LocalPort, DPort: r.cfg.Port}
	} else {
		pf.Request = Packet{Family: r.fam, Proto: proto, Src: src, Dst: r.dst, ICMPType: "echo-request"}
	}
	pf.Answer = Packet{Family: r.fam, Proto: pf.Request.Proto, Src: r.dst, Dst: src, SPort: pf.Request.DPort, DPort: pf.Request.SPort, ICMPType: "echo-reply"}
	for _, ex := range exchanges {
		var req, ans func(string) bool
		switch {
		case kind == decode.KindTCPConn && ex.Kind == kind && ex.SrcAddr == src && ex.SrcPort == r.tcp.LocalPort && ex.DstAddr == r.dst && ex.DstPort == r.cfg.Port:
			req = func(w string) bool { return strings.HasPrefix(w, "[S]") }
			ans = func(w string) bool { return strings.HasPrefix(w, "[S.]") || strings.HasPrefix(w, "[R") }
		case kind != decode.KindTCPConn && ex.Kind == kind && ex.ID != nil && *ex.ID == r.echo.ID && ex.SrcAddr == src:
			req = func(w string) bool { return w == "request" }
			ans = func(w string) bool { return w == "reply" }
		default:
			continue
		}
		for _, s := range ex.Seen {
			sight, ok := sightOf(s)
			switch {
			case s.Drop != "":
				reason, loc, _ := strings.Cut(s.Drop, " at ")
				loc, _, _ = strings.Cut(loc, " (")
				pf.Drops = append(pf.Drops, KernelDropSeen{Namespace: strings.TrimSuffix(s.Point, "/drops"), Reason: reason, Location: loc})
			case !ok:
			case req(s.What):
				pf.RequestSeen = append(pf.RequestSeen, sight)
			case ans(s.What):
				pf.AnswerSeen = append(pf.AnswerSeen, sight)
				if strings.HasPrefix(s.What, "[R") {
					pf.Refused = true
				}
			}
		}
		for _, e := range ex.Errors {
			from, _ := netip.ParseAddr(e.From)
			is := ICMPSeen{From: from, Type: e.Type, Code: e.Code, Text: e.Text}
			for _, s := range ex.Seen {
				if sight, ok := sightOf(s); ok && s.What == e.Text {
					is.Seen = append(is.Seen, sight)
				}
			}
			pf.Errors = append(pf.Errors, is)
		}
	}
	if len(r.path) > 0 && !slices.ContainsFunc(pf.RequestSeen, func(s Sight) bool { return s.Namespace != r.path[0].Namespace }) {
		r.resolutionFacts(&pf, f, exchanges)
	}
	return pf
}

// resolutionFacts: the request never got past its sender; what its
// neighbour resolution for the next hop did takes its place.
func (r *run) resolutionFacts(pf *ProbeFacts, f *Facts, exchanges []*decode.Exchange) {
	nh := r.dst
	if lk, ok := f.lookup(r.path[0].Namespace, r.dst, ""); ok && lk.Gateway.IsValid() {
		nh = lk.Gateway
	}
	kind, ask := decode.KindARPRes, "who-has"
	if r.fam == 6 {
		kind, ask = decode.KindNDP, "neighbor solicitation"
	}
	var seen []Sight
	for _, ex := range exchanges {
		if ex.Kind != kind || ex.Dst != nh.String() {
			continue
		}
		for _, s := range ex.Seen {
			if sight, ok := sightOf(s); ok && s.What == ask && !slices.Contains(seen, sight) {
				seen = append(seen, sight)
			}
		}
	}
	if len(seen) > 0 {
		pf.Resolution, pf.RequestSeen = true, seen
	}
}

// sightOf splits a sighting's capture point NS/IFACE (NS may itself be a
// path) into a Sight.
func sightOf(s decode.Sighting) (Sight, bool) {
	i := strings.LastIndex(s.Point, "/")
	if i <= 0 || s.Drop != "" {
		return Sight{}, false
	}
	d := DirIn
	switch s.Dir {
	case "In":
	case "Out":
		d = DirOut
	default:
		return Sight{}, false
	}
	return Sight{Namespace: s.Point[:i], Iface: s.Point[i+1:], Dir: d}, true
}
