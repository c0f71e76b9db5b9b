package capture

import (
	"errors"
	"fmt"
)

// ErrFilter marks a filter expression nsdump cannot compile.
var ErrFilter = errors.New("bad filter expression")

// ErrUnknownKeyword marks a word that is neither a filter keyword nor a
// value a qualifier can take; callers that let a filter follow other words
// (namespace names) branch on it.
var ErrUnknownKeyword = errors.New("unknown filter keyword")

// KeywordError is a word the filter grammar does not know where a
// keyword is expected; it is both ErrUnknownKeyword and ErrFilter.
type KeywordError struct{ Word string }

func (e *KeywordError) Error() string { return "filter: unknown filter keyword '" + e.Word + "'" }

func (e *KeywordError) Is(target error) bool {
	return target == ErrUnknownKeyword || target == ErrFilter
}

// filterError is a filter that cannot be compiled; its text says why
// without repeating ErrFilter's, which it matches.
type filterError struct{ msg string }

func (e *filterError) Error() string { return e.msg }

func (e *filterError) Is(target error) bool { return target == ErrFilter }

func filterErr(format string, a ...any) error {
	return &filterError{msg: "filter: " + fmt.Sprintf(format, a...)}
}

// The filter language is libpcap's (pcap-filter(7)), parsed as its
// grammar.y does: "and" and "or" have the same precedence and group from
// the left, "not" binds tightest, and a bare value after "and"/"or" takes
// the qualifiers of the term before it ("port 80 or 443"). Each primitive
// is turned into tests as it is parsed, so "vlan", "mpls" and "pppoes"
// shift the offsets of every primitive after them, as in libpcap.

// Limits: nesting (parentheses, brackets, operator alternations) and size.
const (
	maxDepth = 500
	maxTerms = 100000
)

// qual is a term's qualifiers: protocol, direction, address type. bad is
// libpcap's qerr: a term (like "tcp" alone) whose qualifiers a following
// bare value cannot take.
type qual struct {
	proto, dir, addr string
	bad              bool
}

var qerr = qual{bad: true}

type parser struct {
	toks  []token
	pos   int
	lay   layout
	depth int
	terms int
}

// parseFilter parses an expression into tests on frames laid out as lay.
// An empty expression gives nil.
func parseFilter(expr string, lay layout) (bexpr, error) {
	toks, err := lex(expr)
	if err != nil || len(toks) == 0 {
		return nil, err
	}
	p := &parser{toks: toks, lay: lay}
	b, _, err := p.expr(qerr)
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, p.syntax()
	}
	return b, nil
}

func (p *parser) peek() token { return p.at(p.pos) }

func (p *parser) at(i int) token {
	if i < len(p.toks) {
		return p.toks[i]
	}
	return token{kind: tkEOF}
}

func (p *parser) next() token {
	t := p.peek()
	if p.pos < len(p.toks) {
		p.pos++
	}
	return t
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }
func (t token) op(text string) bool               { return t.is(tkOp, text) }
func (t token) kw(text string) bool               { return t.is(tkKw, text) }
func (t token) not() bool                         { return t.op("!") || t.kw("!") }
func (t token) andOr() bool                       { return t.kw("and") || t.kw("or") }

func (p *parser) syntax() error {
	t := p.peek()
	if t.kind == tkEOF {
		return filterErr("syntax error: the expression ends too early")
	}
	return filterErr("syntax error at %q", t.text)
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return filterErr("expression nested deeper than %d levels", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) term0() error {
	p.terms++
	if p.terms > maxTerms {
		return filterErr("expression has more than %d terms", maxTerms)
	}
	return nil
}

// chain builds a left-associative and/or chain without nesting runs of
// the same operator, so that long chains stay shallow.
type chain struct {
	cur bexpr
	op  string
	n   int // alternations, bounded by maxDepth
}

func (c *chain) add(op string, x bexpr) error {
	if l, ok := c.cur.(*bList); ok && c.op == op {
		l.kids = append(l.kids, x)
		return nil
	}
	c.n++
	if c.n > maxDepth {
		return filterErr("expression alternates \"and\" and \"or\" more than %d times without parentheses", maxDepth)
	}
	c.cur, c.op = &bList{or: op == "or", kids: []bexpr{c.cur, x}}, op
	return nil
}

// expr: term { (and|or) (term|id) }, left to right, equal precedence.
func (p *parser) expr(prev qual) (bexpr, qual, error) {
	if err := p.enter(); err != nil {
		return nil, qual{}, err
	}
	defer p.leave()
	b, q, err := p.term(prev)
	if err != nil {
		return nil, q, err
	}
	c := chain{cur: b}
	for p.peek().andOr() {
		op := p.next().text
		var x bexpr
		if p.startsID() {
			x, err = p.id(q)
		} else {
			x, q, err = p.term(q)
		}
		if err != nil {
			return nil, q, err
		}
		if err := c.add(op, x); err != nil {
			return nil, q, err
		}
	}
	return c.cur, q, nil
}

// nots consumes a run of "not" and tells whether their count is odd.
func (p *parser) nots() bool {
	odd := false
	for p.peek().not() {
		p.next()
		odd = !odd
	}
	return odd
}

func negate(b bexpr, odd bool) bexpr {
	if odd {
		return bNot{b}
	}
	return b
}

// term: {not} rterm.
func (p *parser) term(prev qual) (bexpr, qual, error) {
	odd := p.nots()
	if err := p.term0(); err != nil {
		return nil, qerr, err
	}
	b, q, err := p.rterm(prev)
	return negate(b, odd), q, err
}

// startsID tells whether the words ahead are a bare value (an "id" of the
// grammar) rather than a term: an address, a name, a number not followed by
// arithmetic, or parentheses around such.
func (p *parser) startsID() bool {
	i := p.pos
	for p.at(i).not() || p.at(i).op("(") {
		i++
	}
	switch t := p.at(i); t.kind {
	case tkHID, tkHID6, tkEID, tkAID, tkID:
		return true
	case tkNum:
		n := p.at(i + 1)
		return n.kind == tkEOF || n.andOr() || n.op(")")
	}
	return false
}

var (
	pnames = map[string]bool{"ether": true, "ip": true, "ip6": true, "arp": true, "rarp": true, "tcp": true,
		"udp": true, "sctp": true, "icmp": true, "icmp6": true, "igmp": true}
	dquals = map[string]bool{"src": true, "dst": true}
	aquals = map[string]bool{"host": true, "net": true, "port": true, "portrange": true}
)

func (p *parser) rterm(prev qual) (bexpr, qual, error) {
	t := p.peek()
	switch {
	case t.op("("):
		if p.looksArith() {
			save, saveLay := p.pos, p.lay
			if b, err := p.relation(); err == nil {
				return b, qerr, nil
			}
			p.pos, p.lay = save, saveLay
		}
		p.next()
		b, _, err := p.expr(prev)
		if err != nil {
			return nil, qerr, err
		}
		if !p.next().op(")") {
			p.pos--
			return nil, qerr, p.syntax()
		}
		return b, prev, nil
	case t.kind == tkKw && pnames[t.text]:
		n := p.at(p.pos + 1)
		switch {
		case n.op("["):
			b, err := p.relation()
			return b, qerr, err
		case n.kind == tkKw && (dquals[n.text] || aquals[n.text] || n.text == "proto" || n.text == "gateway"):
			p.next()
			return p.head(t.text)
		case n.kw("broadcast") || n.kw("multicast"):
			p.pos += 2
			b, err := p.castOf(t.text, n.text)
			return b, qerr, err
		}
		p.next()
		b, err := p.protoAbbrev(t.text)
		return b, qerr, err
	case t.kind == tkKw && (dquals[t.text] || aquals[t.text] || t.text == "proto" || t.text == "gateway"):
		return p.head("")
	case t.kw("broadcast") || t.kw("multicast"):
		p.next()
		b, err := p.castOf("", t.text)
		return b, qerr, err
	case t.kw("less") || t.kw("greater"):
		p.next()
		n := p.next()
		if n.kind != tkNum {
			p.pos--
			return nil, qerr, p.syntax()
		}
		if t.text == "less" {
			return bRel{l: aLen{}, r: aNum(n.num), op: "<="}, qerr, nil
		}
		return bRel{l: aLen{}, r: aNum(n.num), op: ">="}, qerr, nil
	case t.kw("vlan") || t.kw("mpls") || t.kw("pppoes"):
		p.next()
		num, has, err := p.optNum()
		if err != nil {
			return nil, qerr, err
		}
		b, err := p.encap(t.text, num, has)
		return b, qerr, err
	case t.kind == tkNum || t.kw("len") || t.op("-"):
		b, err := p.relation()
		return b, qerr, err
	case t.kind == tkKw && t.text[0] == '?':
		return nil, qerr, filterErr("filter keyword '%s' is not supported by nsdump", t.text[1:])
	case t.kind == tkID:
		return nil, qerr, &KeywordError{Word: t.text}
	case t.kind == tkHID || t.kind == tkHID6 || t.kind == tkEID:
		return nil, qerr, filterErr("syntax error at %q: a value needs a qualifier first (host %s)", t.text, t.text)
	}
	return nil, qerr, p.syntax()
}

// looksArith tells whether parentheses open an arithmetic expression:
// the first word inside is a number, "len", "-" or proto[.
func (p *parser) looksArith() bool {
	i := p.pos
	for p.at(i).op("(") {
		i++
	}
	t := p.at(i)
	return t.kind == tkNum || t.kw("len") || t.op("-") || (t.kind == tkKw && pnames[t.text] && p.at(i+1).op("["))
}

// optNum reads the optional number after vlan, mpls and pppoes: NUM or (NUM).
func (p *parser) optNum() (uint32, bool, error) {
	i := p.pos
	for p.at(i).op("(") {
		i++
	}
	if p.at(i).kind != tkNum {
		return 0, false, nil
	}
	opens := i - p.pos
	for k := 0; k < opens; k++ {
		if !p.at(i + 1 + k).op(")") {
			return 0, false, nil
		}
	}
	p.pos = i + 1 + opens
	return p.at(i).num, true, nil
}

// head: [proto] [dir] [addr|proto|gateway] id.
func (p *parser) head(proto string) (bexpr, qual, error) {
	q := qual{proto: proto}
	if t := p.peek(); t.kind == tkKw && dquals[t.text] {
		p.next()
		q.dir = t.text
		if n, m := p.peek(), p.at(p.pos+1); n.andOr() && m.kind == tkKw && dquals[m.text] && m.text != t.text {
			p.pos += 2
			q.dir = n.text
		}
	}
	switch t := p.peek(); {
	case t.kind == tkKw && aquals[t.text]:
		p.next()
		q.addr = t.text
	case t.kw("proto") && q.dir == "":
		p.next()
		q.addr = "proto"
	case t.kw("gateway") && q.dir == "":
		return nil, qerr, filterErr("'gateway' needs host name resolution, which nsdump does not do")
	}
	b, err := p.id(q)
	return b, q, err
}

// id: {not} value | {not} ( id {(and|or) id} ), every value with q.
func (p *parser) id(q qual) (bexpr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	odd := p.nots()
	if err := p.term0(); err != nil {
		return nil, err
	}
	if p.peek().op("(") {
		p.next()
		if p.peek().op("(") && !p.nestedNum() {
			// grammar.y: "( pid )" starts with a value, a number in
			// parentheses, or not: "((10.0.0.1))" is a syntax error.
			return nil, p.syntax()
		}
		b, err := p.id(q)
		if err != nil {
			return nil, err
		}
		c := chain{cur: b}
		for p.peek().andOr() {
			op := p.next().text
			x, err := p.id(q)
			if err != nil {
				return nil, err
			}
			if err := c.add(op, x); err != nil {
				return nil, err
			}
		}
		if !p.next().op(")") {
			p.pos--
			return nil, p.syntax()
		}
		return negate(c.cur, odd), nil
	}
	b, err := p.value(q)
	return negate(b, odd), err
}

// nestedNum tells whether parentheses around a number start here.
func (p *parser) nestedNum() bool {
	i := p.pos
	for p.at(i).op("(") {
		i++
	}
	if p.at(i).kind != tkNum {
		return false
	}
	for k := p.pos; k < i; k++ {
		if !p.at(i + 1 + k - p.pos).op(")") {
			return false
		}
	}
	return true
}

// value lowers one bare value under qualifiers q.
func (p *parser) value(q qual) (bexpr, error) {
	t := p.next()
	if q.bad {
		switch t.kind {
		case tkID:
			return nil, &KeywordError{Word: t.text}
		case tkNum, tkHID, tkHID6, tkEID, tkAID:
			return nil, filterErr("syntax error at %q: the term before gives it no qualifier", t.text)
		}
		p.pos--
		return nil, p.syntax()
	}
	switch t.kind {
	case tkNum:
		return p.ncode("", t.num, q)
	case tkHID:
		if p.peek().op("/") {
			p.next()
			n := p.next()
			if n.kind != tkNum {
				p.pos--
				return nil, p.syntax()
			}
			return p.mcode(t.text, "", n.num, q)
		}
		if p.peek().kw("mask") {
			p.next()
			m := p.next()
			if m.kind != tkHID {
				p.pos--
				return nil, p.syntax()
			}
			return p.mcode(t.text, m.text, 0, q)
		}
		return p.ncode(t.text, 0, q)
	case tkHID6:
		bits := uint32(128)
		if p.peek().op("/") {
			p.next()
			n := p.next()
			if n.kind != tkNum {
				p.pos--
				return nil, p.syntax()
			}
			bits = n.num
		}
		return p.mcode6(t.text, bits, q)
	case tkEID:
		return p.ecode(t.text, q)
	case tkAID:
		return nil, filterErr("ARCnet address %s is not supported by nsdump", t.text)
	case tkID:
		return p.scode(t.text, q)
	}
	p.pos--
	return nil, p.syntax()
}
