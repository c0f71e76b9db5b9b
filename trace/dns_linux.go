package trace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsProbe is the dns probe: the sender asks the first nameserver of its
// own resolv.conf for the name's A and AAAA records, from a socket of its
// namespace, as its resolver would.
type dnsProbe struct {
	name       dnsmessage.Name
	resolvConf string
	server     netip.Addr
	from       *side
	to         string // the namespace of the trace that holds server, else the address
	via        *run   // the run whose path leads to server, when to is the other end
	ids        [2]uint16
	res        udpResult
	err        error
}

// resolvConfOf is the resolv.conf a process of the namespace reads: a
// container's own (through its process's root), a named namespace's
// /etc/netns/NAME/resolv.conf (which `ip netns exec` mounts over
// /etc/resolv.conf), else the host's.
func resolvConfOf(target string, s *side) string {
	if c := s.info.Container; c != nil && c.PID > 0 {
		return fmt.Sprintf("/proc/%d/root/etc/resolv.conf", c.PID)
	}
	if rest, ok := strings.CutPrefix(target, "pid:"); ok {
		return "/proc/" + rest + "/root/etc/resolv.conf"
	}
	if topology.IsNamed(target) {
		p := "/etc/netns/" + target + "/resolv.conf"
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/etc/resolv.conf"
}

// planDNS reads the sender's resolv.conf and finds where its first
// nameserver is: in the other end (then the probe follows that run's
// path), in the sender itself (a local resolver, Docker's 127.0.0.11),
// or elsewhere.
func planDNS(cfg Config, a, b *side, runs []*run) (*dnsProbe, error) {
	name, err := dnsName(cfg.DNSName)
	if err != nil {
		return nil, err
	}
	d := &dnsProbe{name: name, resolvConf: resolvConfOf(cfg.From, a), from: a}
	f, err := os.Open(d.resolvConf)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--dns: %s has no %s: it resolves no name", a.name, d.resolvConf)
	}
	if err != nil {
		return nil, fmt.Errorf("--dns: %w", err)
	}
	servers, err := parseResolvConf(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("--dns: %s: %w", d.resolvConf, err)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("--dns: %s names no nameserver", d.resolvConf)
	}
	d.server = servers[0].WithZone("")
	d.to = d.server.String()
	for _, r := range runs {
		if r.from == a && slices.Contains(addresses(b, famOf(d.server)), d.server) {
			d.to, d.via = b.name, r
			break
		}
	}
	if d.via == nil && (d.server.IsLoopback() || slices.Contains(addresses(a, famOf(d.server)), d.server)) {
		d.to = a.name
	}
	d.ids = [2]uint16{randomID(), randomID()}
	return d, nil
}

// query is the DNS query of type t with id, recursion desired.
func (d *dnsProbe) query(id uint16, t dnsmessage.Type) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: d.name, Type: t, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// run sends the A and AAAA queries and reads their responses.
func (d *dnsProbe) run(ctx context.Context, cfg Config) {
	qa, err := d.query(d.ids[0], dnsmessage.TypeA)
	if err != nil {
		d.err = err
		return
	}
	qaaaa, err := d.query(d.ids[1], dnsmessage.TypeAAAA)
	if err != nil {
		d.err = err
		return
	}
	match := func(b []byte) bool {
		var p dnsmessage.Parser
		h, err := p.Start(b)
		return err == nil && h.Response && slices.Contains(d.ids[:], h.ID)
	}
	// As a resolver does: the kernel picks the source address.
	d.res, d.err = probeUDP(ctx, d.from.ns, netip.Addr{}, netip.AddrPortFrom(d.server, 53), [][]byte{qa, qaaaa}, cfg.Timeout, match)
}

// facts reads the responses: the first one's code (NXDOMAIN from either
// wins: the name does not exist) and the addresses both gave.
func (d *dnsProbe) facts() *facts.DNSFacts {
	f := &facts.DNSFacts{Name: d.name.String(), Server: d.server, ResolvConf: d.resolvConf}
	for _, b := range d.res.Answers {
		var p dnsmessage.Parser
		h, err := p.Start(b)
		if err != nil {
			continue
		}
		if !f.Answered || h.RCode == dnsmessage.RCodeNameError {
			f.RCode = rcodeName(h.RCode)
		}
		f.Answered = true
		if err := p.SkipAllQuestions(); err != nil {
			continue
		}
		for {
			rh, err := p.AnswerHeader()
			if err != nil {
				break
			}
			switch rh.Type {
			case dnsmessage.TypeA:
				if r, err := p.AResource(); err == nil {
					f.Addresses = append(f.Addresses, netip.AddrFrom4(r.A))
				}
			case dnsmessage.TypeAAAA:
				if r, err := p.AAAAResource(); err == nil {
					f.Addresses = append(f.Addresses, netip.AddrFrom16(r.AAAA))
				}
			default:
				p.SkipAnswer()
			}
		}
	}
	return f
}

// rcodeName is a response code as DNS tools print it.
func rcodeName(c dnsmessage.RCode) string {
	switch c {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return "RCODE" + strconv.Itoa(int(c))
}

// ok: a response gave the name an address.
func (d *dnsProbe) ok(f *facts.DNSFacts) bool {
	return f.Answered && f.RCode == "NOERROR" && len(f.Addresses) > 0
}

// direction is the dns probe's: to the other end when it holds the
// nameserver, else to the nameserver's address.
func (d *dnsProbe) direction() string { return d.from.name + "->" + d.to }

// src is the source address the query left with.
func (d *dnsProbe) src() netip.Addr {
	if lk := liveLookup(d.from.ts, d.from.name, d.server, netip.Addr{}, ""); lk.Src.IsValid() {
		return lk.Src
	}
	return netip.Addr{}
}

// probe is the dns probe as shown and its facts.
func (d *dnsProbe) probe(exchanges []*decode.Exchange) (Probe, facts.ProbeFacts) {
	fam := famOf(d.server)
	src := d.src()
	pr := Probe{Direction: d.direction(), Kind: facts.KindDNS, Family: fam}
	pf := facts.ProbeFacts{Direction: pr.Direction, Kind: facts.KindDNS, Family: fam, From: d.from.name, To: d.to,
		RequestSeen: []facts.Sight{}, AnswerSeen: []facts.Sight{}}
	pf.Request = facts.Packet{Family: fam, Proto: "udp", Src: src, Dst: d.server, SPort: d.res.LocalPort, DPort: 53}
	pf.Answer = facts.Packet{Family: fam, Proto: "udp", Src: d.server, Dst: src, SPort: 53, DPort: d.res.LocalPort}
	pf.DNS = d.facts()
	pf.OK = d.ok(pf.DNS)
	pf.Socket = facts.SocketFacts{Count: 2, Sent: d.res.Sent, Received: d.res.Replies,
		SendErr: socketError(d.res.SendErr), RecvErr: socketError(d.res.RecvErr)}
	pr.Sent, pr.Received = d.res.Sent, d.res.Replies
	if pf.OK {
		pr.RTTms = ptr(float64(d.res.RTT.Microseconds()) / 1000)
	}
	pf.RouteGets = []facts.Lookup{liveLookup(d.from.ts, d.from.name, d.server, netip.Addr{}, "")}
	if r := d.via; r != nil {
		pf.Path, pf.Back, pf.PathTruncated, pf.BackTruncated = r.path, r.backPath, r.pathCut, r.backCut
		pf.RouteGets = append(pf.RouteGets, liveLookup(d.from.ts, r.to.name, src, netip.Addr{}, ""))
		for _, h := range append(slices.Clone(r.path), r.backPath...) {
			if h.Namespace != d.from.name && h.Namespace != r.to.name && !slices.ContainsFunc(pf.RouteGets, func(l facts.Lookup) bool { return l.Namespace == h.Namespace }) {
				pf.RouteGets = append(pf.RouteGets, liveLookup(d.from.ts, h.Namespace, d.server, netip.Addr{}, ""))
			}
		}
	}
	c := netip.AddrPortFrom(src, d.res.LocalPort)
	s := netip.AddrPortFrom(d.server, 53)
	for _, ex := range exchanges {
		a, b := netip.AddrPortFrom(ex.SrcAddr, ex.SrcPort), netip.AddrPortFrom(ex.DstAddr, ex.DstPort)
		if d.res.LocalPort == 0 || !(a == c && b == s || a == s && b == c) {
			continue
		}
		pr.Seen = append(pr.Seen, ex.Seen...)
		seeExchange(&pf, facts.KindDNS, ex,
			func(s decode.Sighting) bool { return s.What == "query" },
			func(s decode.Sighting) bool { return s.What == "response" })
	}
	return pr, pf
}
