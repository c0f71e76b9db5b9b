package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrFilter marks a filter expression nsdump cannot compile.
var ErrFilter = errors.New("bad filter expression")

// The filter language is tcpdump's (pcap-filter(7)) for what a namespace
// debugger needs: protocols (ether, ip, ip6, arp, rarp, icmp, icmp6, tcp,
// udp), [ip|ip6] proto N, host, net (CIDR or mask), port, portrange, ether host/broadcast/
// multicast, less, greater, proto[offset:size] comparisons with & and named
// constants, and/or/not with parentheses, and tcpdump's shorthand where a
// bare value repeats the previous qualifiers ("port 80 or 443").

// node is the filter's syntax tree.
type node interface{ isNode() }

type (
	andNode struct{ l, r node }
	orNode  struct{ l, r node }
	notNode struct{ n node }
	// protoNode is a bare protocol: "ip", "tcp", "arp".
	protoNode struct{ proto string }
	// hostNode is [proto] [dir] host ADDR.
	hostNode struct {
		proto, dir string
		addr       netip.Addr
	}
	netNode struct {
		proto, dir string
		prefix     netip.Prefix
	}
	portNode struct {
		proto, dir string
		lo, hi     uint16
	}
	etherNode struct {
		dir  string
		mac  [6]byte
		kind string // "host", "broadcast", "multicast"
	}
	// protoNumNode is [ip|ip6] proto N.
	protoNumNode struct {
		family string
		num    uint32
	}
	lenNode struct {
		op  string // "<=" (less) or ">=" (greater)
		val uint32
	}
	// cmpNode is proto[off:size] & mask OP value.
	cmpNode struct {
		proto     string
		off, size uint32
		mask      uint32
		hasMask   bool
		op        string
		val       uint32
	}
)

func (andNode) isNode()      {}
func (orNode) isNode()       {}
func (notNode) isNode()      {}
func (protoNode) isNode()    {}
func (hostNode) isNode()     {}
func (netNode) isNode()      {}
func (portNode) isNode()     {}
func (etherNode) isNode()    {}
func (lenNode) isNode()      {}
func (protoNumNode) isNode() {}
func (cmpNode) isNode()      {}

type parser struct {
	toks []string
	pos  int
	last qualifiers // for tcpdump's "port 80 or 443"
}

type qualifiers struct {
	proto, dir, typ string
}

// parseFilter parses a filter expression given as words, as tcpdump takes it.
func parseFilter(expr string) (node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, nil
	}
	p := &parser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, p.errorf("unexpected %q", p.toks[p.pos])
	}
	return n, nil
}

func lex(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case strings.ContainsRune("()[]:&|!=<>", rune(c)):
			if i+1 < len(s) {
				if two := s[i : i+2]; two == "&&" || two == "||" || two == "==" || two == "!=" || two == "<=" || two == ">=" {
					toks = append(toks, two)
					i += 2
					continue
				}
			}
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n()[]&|!=<>", rune(s[j])) {
				if s[j] == ':' && !strings.Contains(s[i:j], ".") && looksLikeOffsetColon(s, i, j) {
					break
				}
				j++
			}
			if j == i {
				return nil, fmt.Errorf("filter: unexpected character %q: %w", c, ErrFilter)
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

// looksLikeOffsetColon tells "ip[2:2]" (a size separator) from the colons of
// an IPv6 or MAC address: inside brackets, a colon separates.
func looksLikeOffsetColon(s string, start, at int) bool {
	open := strings.LastIndex(s[:at], "[")
	return open >= 0 && !strings.Contains(s[open:at], "]")
}

func (p *parser) errorf(format string, a ...any) error {
	return fmt.Errorf("filter: "+format+": %w", append(a, ErrFilter)...)
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	if t != "" {
		p.pos++
	}
	return t
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t == "or" || t == "||"; t = p.peek() {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and() (node, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t == "and" || t == "&&"; t = p.peek() {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) not() (node, error) {
	if t := p.peek(); t == "not" || t == "!" {
		p.next()
		n, err := p.not()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	return p.primary()
}

var (
	protos = map[string]bool{"ether": true, "ip": true, "ip6": true, "arp": true, "rarp": true, "icmp": true, "icmp6": true, "tcp": true, "udp": true}
	dirs   = map[string]bool{"src": true, "dst": true}
	types  = map[string]bool{"host": true, "net": true, "port": true, "portrange": true}
)

// StartsFilter reports whether word can begin a filter expression, so that
// a command line can tell a misspelt namespace from a filter.
func StartsFilter(word string) bool {
	switch word {
	case "not", "!", "(", "less", "greater", "proto":
		return true
	}
	if _, err := netip.ParseAddr(word); err == nil {
		return true // a bare address is "host ADDR", as in tcpdump
	}
	return protos[word] || dirs[word] || types[word] || strings.HasPrefix(word, "(") || strings.HasPrefix(word, "!")
}

func (p *parser) primary() (node, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, p.errorf("expression ends too early")
	case t == "(":
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, p.errorf("missing )")
		}
		return n, nil
	case t == "less" || t == "greater":
		p.next()
		v, err := p.number(p.next())
		if err != nil {
			return nil, err
		}
		op := "<="
		if t == "greater" {
			op = ">="
		}
		return lenNode{op: op, val: v}, nil
	}
	var q qualifiers
	if protos[t] {
		q.proto = p.next()
		if p.peek() == "[" {
			return p.comparison(q.proto)
		}
		if q.proto == "ether" {
			return p.ether()
		}
	}
	if p.peek() == "proto" && (q.proto == "" || q.proto == "ip" || q.proto == "ip6") {
		p.next()
		v, err := p.number(p.next())
		if err != nil || v > 255 {
			return nil, p.errorf("proto needs a protocol number 0-255")
		}
		return protoNumNode{family: q.proto, num: v}, nil
	}
	if dirs[p.peek()] {
		q.dir = p.next()
		if t := p.peek(); (t == "or" || t == "and") && p.pos+1 < len(p.toks) && dirs[p.toks[p.pos+1]] {
			p.next()
			q.dir += " " + t + " " + p.next()
		}
	}
	if types[p.peek()] {
		q.typ = p.next()
	}
	if q.typ == "" {
		if q.dir == "" && q.proto != "" {
			return protoNode{q.proto}, nil
		}
		if q.proto == "" && q.dir == "" && p.last.typ != "" {
			q = p.last // "port 80 or 443"
		} else {
			q.typ = "host"
		}
	}
	p.last = q
	return p.value(q, p.next())
}

func (p *parser) value(q qualifiers, v string) (node, error) {
	if v == "" {
		return nil, p.errorf("%s needs a value", q.typ)
	}
	switch q.typ {
	case "host":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, p.errorf("host %q is not an IP address (nsdump does not resolve names)", v)
		}
		return hostNode{proto: q.proto, dir: q.dir, addr: a.Unmap()}, nil
	case "net":
		pr, err := p.network(v)
		if err != nil {
			return nil, err
		}
		return netNode{proto: q.proto, dir: q.dir, prefix: pr}, nil
	case "port", "portrange":
		lo, hi, err := p.ports(q.typ, v)
		if err != nil {
			return nil, err
		}
		if q.proto != "" && q.proto != "tcp" && q.proto != "udp" && q.proto != "ip" && q.proto != "ip6" {
			return nil, p.errorf("port qualified by %s", q.proto)
		}
		return portNode{proto: q.proto, dir: q.dir, lo: lo, hi: hi}, nil
	}
	return nil, p.errorf("unknown qualifier %q", q.typ)
}

func (p *parser) network(v string) (netip.Prefix, error) {
	if p.peek() == "mask" {
		p.next()
		a, err1 := netip.ParseAddr(v)
		m, err2 := netip.ParseAddr(p.next())
		if err1 != nil || err2 != nil || !a.Is4() || !m.Is4() {
			return netip.Prefix{}, p.errorf("net %s mask: not IPv4 addresses", v)
		}
		mb := m.As4()
		bits := 0
		for _, b := range mb {
			for i := 7; i >= 0; i-- {
				if b&(1<<i) != 0 {
					bits++
				}
			}
		}
		pr := netip.PrefixFrom(a, bits)
		if pr.Masked().Addr() != a {
			return netip.Prefix{}, p.errorf("non-network bits set in \"%s mask %s\"", v, m)
		}
		return pr, nil
	}
	if !strings.Contains(v, "/") {
		// tcpdump: "net 10.0.1" is 10.0.1.0/24; a full address is /32.
		parts := strings.Split(v, ".")
		if a, err := netip.ParseAddr(v); err == nil {
			return netip.PrefixFrom(a, a.BitLen()), nil
		}
		if len(parts) < 4 {
			full := v + strings.Repeat(".0", 4-len(parts))
			if a, err := netip.ParseAddr(full); err == nil {
				return netip.PrefixFrom(a, 8*len(parts)), nil
			}
		}
		return netip.Prefix{}, p.errorf("net %q is not a network", v)
	}
	pr, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, p.errorf("net %q is not a network", v)
	}
	if pr.Masked() != pr {
		return netip.Prefix{}, p.errorf("non-network bits set in %q", v)
	}
	return pr, nil
}

func (p *parser) ports(typ, v string) (uint16, uint16, error) {
	lo, hi := v, v
	if typ == "portrange" {
		if l, h, ok := strings.Cut(v, "-"); ok {
			lo, hi = l, h
		}
	}
	l, err1 := strconv.ParseUint(lo, 10, 16)
	h, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, p.errorf("%s %q is not a port number (nsdump does not resolve service names)", typ, v)
	}
	if l > h {
		l, h = h, l
	}
	return uint16(l), uint16(h), nil
}

func (p *parser) ether() (node, error) {
	n := etherNode{kind: "host"}
	if dirs[p.peek()] {
		n.dir = p.next()
	}
	switch t := p.next(); t {
	case "broadcast", "multicast":
		n.kind = t
		return n, nil
	case "host":
		t = p.next()
		fallthrough
	default:
		parts := strings.Split(t, ":")
		if len(parts) != 6 {
			return nil, p.errorf("ether host %q is not a MAC address", t)
		}
		for i, x := range parts {
			b, err := strconv.ParseUint(x, 16, 8)
			if err != nil {
				return nil, p.errorf("ether host %q is not a MAC address", t)
			}
			n.mac[i] = byte(b)
		}
		return n, nil
	}
}

// comparison parses proto[off] or proto[off:size], an optional "& mask",
// an operator and a value.
func (p *parser) comparison(proto string) (node, error) {
	p.next() // [
	off, err := p.number(p.next())
	if err != nil {
		return nil, err
	}
	n := cmpNode{proto: proto, off: off, size: 1}
	if p.peek() == ":" {
		p.next()
		if n.size, err = p.number(p.next()); err != nil {
			return nil, err
		}
		if n.size != 1 && n.size != 2 && n.size != 4 {
			return nil, p.errorf("data size must be 1, 2 or 4")
		}
	}
	if p.next() != "]" {
		return nil, p.errorf("missing ]")
	}
	if p.peek() == "&" {
		p.next()
		if n.mask, err = p.constant(); err != nil {
			return nil, err
		}
		n.hasMask = true
	}
	switch op := p.next(); op {
	case "=", "==", "!=", "<", ">", "<=", ">=":
		n.op = op
	default:
		return nil, p.errorf("expected a comparison after %s[...], got %q", proto, op)
	}
	if n.val, err = p.constant(); err != nil {
		return nil, err
	}
	return n, nil
}

var namedConstants = map[string]uint32{
	"icmptype": 0, "icmpcode": 1, "tcpflags": 13,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5, "icmp-echo": 8,
	"icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11, "icmp-paramprob": 12,
	"tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10, "tcp-urg": 0x20,
	"tcp-ece": 0x40, "tcp-cwr": 0x80,
}

// constant reads a number, a named constant, or a parenthesised | of them.
func (p *parser) constant() (uint32, error) {
	if p.peek() == "(" {
		p.next()
		var v uint32
		for {
			x, err := p.constant()
			if err != nil {
				return 0, err
			}
			v |= x
			switch p.next() {
			case "|":
				continue
			case ")":
				return v, nil
			default:
				return 0, p.errorf("expected | or ) in a constant")
			}
		}
	}
	t := p.next()
	if v, ok := namedConstants[t]; ok {
		return v, nil
	}
	return p.number(t)
}

func (p *parser) number(t string) (uint32, error) {
	if v, ok := namedConstants[t]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(t, 0, 32)
	if err != nil {
		return 0, p.errorf("%q is not a number", t)
	}
	return uint32(v), nil
}
