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
	"golang.org/x/sys/unix"
)

// dnsProbe is the dns probe: the sender asks the first nameserver of its
// own resolv.conf for the name's A and AAAA records, from a socket of its
// namespace, trying the names its search list makes as its resolver
// would.
type dnsProbe struct {
	names      []dnsmessage.Name // to ask, in order (searchNames)
	resolvConf string
	server     netip.Addr // without its zone, as packets show it
	zone       string     // a link-local server's interface in the sender (resolv.conf's fe80::1%eth0)
	from       *side
	to         string // the namespace of the trace that holds server, else the address
	via        *run   // the run whose path leads to server, when to is the other end
	tries      []dnsTry
	err        error
}

// dnsTry is one name asked: its A and AAAA queries, what the socket saw
// and what the responses said.
type dnsTry struct {
	name dnsmessage.Name
	ids  [2]uint16
	res  udpResult
	got  *facts.DNSFacts
}

// resolvConfOf is the resolv.conf a process of the namespace reads: a
// container's or a process's own (inside its root: pid:N, /proc/N/ns/net),
// a named namespace's /etc/netns/NAME/resolv.conf (which `ip netns exec`
// mounts over /etc/resolv.conf), else the host's. root is the process's
// root (/proc/PID/root) when the file is a process's, else "".
func resolvConfOf(target string, s *side) (path, root string) {
	if c := s.info.Container; c != nil && c.PID > 0 {
		root = fmt.Sprintf("/proc/%d/root", c.PID)
		return root + "/etc/resolv.conf", root
	}
	if rest, ok := strings.CutPrefix(target, "pid:"); ok {
		root = "/proc/" + rest + "/root"
		return root + "/etc/resolv.conf", root
	}
	if rest, ok := strings.CutPrefix(target, "/proc/"); ok {
		if pid, ok := strings.CutSuffix(rest, "/ns/net"); ok && pid != "" && strings.Trim(pid, "0123456789") == "" {
			root = "/proc/" + pid + "/root"
			return root + "/etc/resolv.conf", root
		}
	}
	if topology.IsNamed(target) {
		p := "/etc/netns/" + target + "/resolv.conf"
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	return "/etc/resolv.conf", ""
}

// openResolvConf opens path; a container's (under root) is resolved
// inside that root, as its own processes see it: a symbolic link there
// (/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf) leads to
// the container's file, not the host's of the same name.
func openResolvConf(path, root string) (*os.File, error) {
	if root == "" {
		return os.Open(path)
	}
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, strings.TrimPrefix(path, root+"/"), &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// planDNS reads the sender's resolv.conf and finds where its first
// nameserver is: in the other end (then the probe follows that run's
// path), in the sender itself (a local resolver, Docker's 127.0.0.11),
// or elsewhere.
func planDNS(cfg Config, a, b *side, runs []*run) (*dnsProbe, error) {
	if _, err := dnsName(cfg.DNSName); err != nil {
		return nil, err
	}
	path, root := resolvConfOf(cfg.From, a)
	d := &dnsProbe{resolvConf: path, from: a}
	f, err := openResolvConf(path, root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--dns: %s has no %s: it resolves no name", a.name, path)
	}
	if err != nil {
		return nil, fmt.Errorf("--dns: %w", err)
	}
	rc, err := parseResolvConf(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("--dns: %w", err)
	}
	if len(rc.servers) == 0 {
		return nil, fmt.Errorf("--dns: %s names no nameserver", d.resolvConf)
	}
	d.names = rc.searchNames(cfg.DNSName)
	servers := rc.servers
	d.server, d.zone = servers[0].WithZone(""), servers[0].Zone()
	if d.zone != "" {
		if _, err := zoneIndex(a.ns, d.zone); err != nil {
			return nil, fmt.Errorf("--dns: %s names nameserver %s, but %s has no interface %s", d.resolvConf, decode.Printable(servers[0].String()), a.name, decode.Printable(d.zone))
		}
	}
	d.to = d.server.String()
	for _, r := range runs {
		if r.from == a && r.fam == famOf(d.server) && slices.Contains(addresses(b, r.fam), d.server) {
			d.to, d.via = b.name, r
			break
		}
	}
	if d.via == nil && (d.server.IsLoopback() || slices.Contains(addresses(a, famOf(d.server)), d.server)) {
		d.to = a.name
	}
	return d, nil
}

// query is the DNS query for name of type t with id, recursion desired.
func query(name dnsmessage.Name, id uint16, t dnsmessage.Type) ([]byte, error) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// run asks the names in order, as the C library's resolver does: the
// next only when the server said this one does not exist or has no
// address (NXDOMAIN, or NOERROR without a record); silence, a refusal,
// another error or a truncated response (which a resolver asks again
// over TCP) ends it.
func (d *dnsProbe) run(ctx context.Context, cfg Config) {
	for _, n := range d.names {
		try, err := d.ask(ctx, cfg, n)
		if err != nil {
			d.err = err
			return
		}
		d.tries = append(d.tries, try)
		g := try.got
		if !g.Answered || g.Truncated || g.RCode != "NXDOMAIN" && (g.RCode != "NOERROR" || len(g.Addresses) > 0) || ctx.Err() != nil {
			return
		}
	}
}

// ask sends name's A and AAAA queries from a socket of the sender's own
// (the kernel picks the source address, as for its resolver) and reads
// the responses.
func (d *dnsProbe) ask(ctx context.Context, cfg Config, name dnsmessage.Name) (dnsTry, error) {
	try := dnsTry{name: name, ids: [2]uint16{randomID(), randomID()}}
	var qs [][]byte
	for i, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		q, err := query(name, try.ids[i], t)
		if err != nil {
			return try, fmt.Errorf("--dns %s: %w", name, err)
		}
		qs = append(qs, q)
	}
	match := func(b []byte) bool {
		var p dnsmessage.Parser
		h, err := p.Start(b)
		return err == nil && h.Response && slices.Contains(try.ids[:], h.ID)
	}
	var err error
	try.res, err = probeUDP(ctx, d.from.ns, netip.Addr{}, netip.AddrPortFrom(d.server.WithZone(d.zone), 53), qs, cfg.Timeout, match)
	try.got = responseFacts(name, try.res.Answers)
	try.got.Name = name.String()
	return try, err
}

// responseFacts reads the responses to one name's queries: the first
// one's code (NXDOMAIN from either wins: the name does not exist), the
// aliases the answer led through from name and the addresses of the last
// one, as the C library takes them (records of other owners are not the
// name's), and whether a response was truncated.
func responseFacts(name dnsmessage.Name, answers [][]byte) *facts.DNSFacts {
	f := &facts.DNSFacts{}
	for _, b := range answers {
		var p dnsmessage.Parser
		h, err := p.Start(b)
		if err != nil {
			continue
		}
		if !f.Answered || h.RCode == dnsmessage.RCodeNameError {
			f.RCode = rcodeName(h.RCode)
		}
		f.Answered = true
		f.Truncated = f.Truncated || h.Truncated
		if err := p.SkipAllQuestions(); err != nil {
			continue
		}
		cnames, addrs := answerOf(&p, name)
		if len(f.CNAMEs) == 0 {
			f.CNAMEs = cnames
		}
		f.Addresses = append(f.Addresses, addrs...)
	}
	return f
}

// maxCNAMEs is how many aliases answerOf follows: a longer chain is a
// loop or a misconfiguration, and the addresses after it are not taken.
const maxCNAMEs = 16

// answerOf reads a response's answer section: the CNAME chain from name
// (each alias's target, in order) and the A and AAAA records of its end.
// A record it cannot parse ends the reading: the parser would offer the
// same record again.
func answerOf(p *dnsmessage.Parser, name dnsmessage.Name) (cnames []string, addrs []netip.Addr) {
	type record struct {
		owner string
		addr  netip.Addr
	}
	alias := map[string]string{}
	var recs []record
	for {
		rh, err := p.AnswerHeader()
		if err != nil {
			break
		}
		owner := strings.ToLower(rh.Name.String())
		var a netip.Addr
		switch rh.Type {
		case dnsmessage.TypeCNAME:
			r, err := p.CNAMEResource()
			if err != nil {
				break
			}
			alias[owner] = r.CNAME.String()
			continue
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				break
			}
			a = netip.AddrFrom4(r.A)
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				break
			}
			a = netip.AddrFrom16(r.AAAA)
		default:
			if p.SkipAnswer() == nil {
				continue
			}
		}
		if !a.IsValid() {
			break // a record that did not parse
		}
		recs = append(recs, record{owner, a})
	}
	end := strings.ToLower(name.String())
	for next, ok := alias[end]; ok; next, ok = alias[end] {
		if len(cnames) == maxCNAMEs {
			return cnames, nil
		}
		cnames = append(cnames, next)
		end = strings.ToLower(next)
	}
	for _, r := range recs {
		if r.owner == end {
			addrs = append(addrs, r.addr)
		}
	}
	return cnames, addrs
}

// facts is what the last name asked got, with the names asked before it.
func (d *dnsProbe) facts() *facts.DNSFacts {
	last := d.tries[len(d.tries)-1]
	f := *last.got
	f.Server, f.ResolvConf = d.server.WithZone(d.zone), d.resolvConf
	for _, t := range d.tries[:len(d.tries)-1] {
		f.Tried = append(f.Tried, t.name.String())
	}
	return &f
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
	last := d.tries[len(d.tries)-1].res
	pr := Probe{Direction: d.direction(), Kind: facts.KindDNS, Family: fam}
	pf := facts.ProbeFacts{Direction: pr.Direction, Kind: facts.KindDNS, Family: fam, From: d.from.name, To: d.to,
		RequestSeen: []facts.Sight{}, AnswerSeen: []facts.Sight{}}
	pf.Request = facts.Packet{Family: fam, Proto: "udp", Src: src, Dst: d.server, SPort: last.LocalPort, DPort: 53}
	pf.Answer = facts.Packet{Family: fam, Proto: "udp", Src: d.server, Dst: src, SPort: 53, DPort: last.LocalPort}
	pf.DNS = d.facts()
	pf.OK = d.ok(pf.DNS)
	pf.Socket = facts.SocketFacts{SendErr: socketError(last.SendErr), RecvErr: socketError(last.RecvErr)}
	for _, t := range d.tries {
		pf.Socket.Count += 2
		pf.Socket.Sent += t.res.Sent
		pf.Socket.Received += t.res.Replies
	}
	pr.Sent, pr.Received = pf.Socket.Sent, pf.Socket.Received
	if pf.OK {
		pr.RTTms = ptr(float64(last.RTT.Microseconds()) / 1000)
	}
	pf.RouteGets = d.routeGets(src)
	if r := d.via; r != nil {
		pf.Path, pf.Back, pf.PathTruncated, pf.BackTruncated = r.path, r.backPath, r.pathCut, r.backCut
	}
	for _, ex := range exchanges {
		if !d.owns(ex, src) {
			continue
		}
		pr.Seen = append(pr.Seen, ex.Seen...)
		seeExchange(&pf, facts.KindDNS, ex,
			func(s decode.Sighting) bool { return s.What == "query" },
			func(s decode.Sighting) bool { return s.What == "response" })
	}
	return pr, pf
}

// routeGets are the lookups its verdict may show: the sender's to the
// nameserver and, when the other end holds it, that end's back and every
// namespace's on the way.
func (d *dnsProbe) routeGets(src netip.Addr) []facts.Lookup {
	out := []facts.Lookup{liveLookup(d.from.ts, d.from.name, d.server, netip.Addr{}, "")}
	r := d.via
	if r == nil {
		return out
	}
	out = append(out, liveLookup(d.from.ts, r.to.name, src, netip.Addr{}, ""))
	for _, h := range append(slices.Clone(r.path), r.backPath...) {
		if h.Namespace != d.from.name && h.Namespace != r.to.name && !slices.ContainsFunc(out, func(l facts.Lookup) bool { return l.Namespace == h.Namespace }) {
			out = append(out, liveLookup(d.from.ts, h.Namespace, d.server, netip.Addr{}, ""))
		}
	}
	return out
}

// owns reports whether an exchange is between one of the probe's sockets
// and the nameserver, either way.
func (d *dnsProbe) owns(ex *decode.Exchange, src netip.Addr) bool {
	s := netip.AddrPortFrom(d.server, 53)
	a, b := netip.AddrPortFrom(ex.SrcAddr, ex.SrcPort), netip.AddrPortFrom(ex.DstAddr, ex.DstPort)
	for _, t := range d.tries {
		c := netip.AddrPortFrom(src, t.res.LocalPort)
		if t.res.LocalPort != 0 && (a == c && b == s || a == s && b == c) {
			return true
		}
	}
	return false
}
