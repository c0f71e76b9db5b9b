package capture

import "strings"

// Relations: arithmetic on packet bytes, "len" and numbers, compared.
// As in libpcap 1.10 (gen_arth), an arithmetic operation keeps the
// protocol checks of its left operand only: "1 + ip[16] != 5" holds for a
// frame that is not IP, "ip[16] + 1 != 5" does not.
// Precedence is grammar.y's: | below &, below << >>, below + -, below * /,
// below unary minus. "%" and "^" have no precedence there, so bison
// always shifts over them: each takes the operand just before it and the
// whole rest of the arithmetic as its right side.

type (
	arith interface{}
	aNum  uint32
	aLen  struct{}
	// aLoad is proto[idx:size]: a load at base+idx, plus the IPv4 header
	// length when msh (4*(frame[mshOff]&0xf)) for transport headers.
	aLoad struct {
		size   int
		base   uint32
		msh    bool
		mshOff uint32
		idx    arith
	}
	aBin struct {
		op   string
		l, r arith
	}
	aNeg struct{ x arith }
)

var arithPrec = map[string]int{"|": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5}

var relops = map[string]bool{">": true, ">=": true, "=": true, "<=": true, "<": true, "!=": true}

// relation parses "arith relop arith"; the guards of every load (the
// protocol it belongs to) hold before the comparison, as in gen_relation.
func (p *parser) relation() (bexpr, error) {
	var guards, rguards []bexpr
	l, err := p.arith(0, &guards)
	if err != nil {
		return nil, err
	}
	op := p.next()
	if op.kind != tkOp || !relops[op.text] {
		p.pos--
		return nil, p.syntax()
	}
	r, err := p.arith(0, &rguards)
	if err != nil {
		return nil, err
	}
	guards = append(guards, rguards...)
	rel := bRel{l: l, r: r, op: op.text}
	if len(guards) == 0 {
		return rel, nil
	}
	return and(append(guards, rel)...), nil
}

func (p *parser) arith(minPrec int, guards *[]bexpr) (arith, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	lhs, err := p.unary(guards)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tkOp {
			return lhs, nil
		}
		if t.text == "%" || t.text == "^" {
			p.next()
			rhs, err := p.arith(0, new([]bexpr))
			if err != nil {
				return nil, err
			}
			if lhs, err = arithOp(t.text, lhs, rhs); err != nil {
				return nil, err
			}
			continue
		}
		prec, ok := arithPrec[t.text]
		if !ok || prec < minPrec {
			return lhs, nil
		}
		p.next()
		rhs, err := p.arith(prec+1, new([]bexpr))
		if err != nil {
			return nil, err
		}
		if lhs, err = arithOp(t.text, lhs, rhs); err != nil {
			return nil, err
		}
	}
}

// arithOp follows gen_arth and libpcap's optimizer in what they refuse:
// a division or modulus by what the optimizer finds to be zero, a shift by
// more than 31 of a value it does not know, or (a quirk of gen_arth kept
// for exactness) any of these when the first number the right side's code
// loads is such a number, even an index: libpcap refuses "len / ip[0]".
// Nothing is folded away: every load the expression names is done.
func arithOp(op string, l, r arith) (arith, error) {
	first, hasFirst := firstConst(r)
	rv, rok := constVal(r)
	_, lok := constVal(l)
	switch {
	case op == "/" && (hasFirst && first == 0 || rok && rv == 0):
		return nil, filterErr("division by zero")
	case op == "%" && (hasFirst && first == 0 || rok && rv == 0):
		return nil, filterErr("modulus by zero")
	case (op == "<<" || op == ">>") && (hasFirst && first > 31 || rok && rv > 31 && !lok):
		return nil, filterErr("shift by more than 31 bits")
	}
	return aBin{op: op, l: l, r: r}, nil
}

// constVal is the value libpcap's optimizer knows a to have, if any: it
// folds numbers, and x*0, x&0, and 0 */%&<<>> x are 0.
func constVal(a arith) (uint32, bool) {
	switch a := a.(type) {
	case aNum:
		return uint32(a), true
	case aNeg:
		v, ok := constVal(a.x)
		return -v, ok
	case aBin:
		x, xok := constVal(a.l)
		y, yok := constVal(a.r)
		switch {
		case xok && yok:
			return fold(a.op, x, y)
		case yok && y == 0 && (a.op == "*" || a.op == "&"):
			return 0, true
		case xok && x == 0 && strings.Contains("* / % & << >>", a.op):
			return 0, true
		}
	}
	return 0, false
}

// fold computes a constant operation as the optimizer's fold_op does.
func fold(op string, x, y uint32) (uint32, bool) {
	switch op {
	case "+":
		return x + y, true
	case "-":
		return x - y, true
	case "*":
		return x * y, true
	case "/":
		if y == 0 {
			return 0, false
		}
		return x / y, true
	case "%":
		if y == 0 {
			return 0, false
		}
		return x % y, true
	case "&":
		return x & y, true
	case "|":
		return x | y, true
	case "^":
		return x ^ y, true
	case "<<":
		return shift(x, y, true), true
	case ">>":
		return shift(x, y, false), true
	}
	return 0, false
}

// firstConst is the number the code for a loads first, if it starts with
// one: its leftmost leaf, or the index of its leftmost load.
func firstConst(a arith) (aNum, bool) {
	for {
		switch x := a.(type) {
		case aNum:
			return x, true
		case aBin:
			a = x.l
		case aNeg:
			a = x.x
		case aLoad:
			a = x.idx
		default:
			return 0, false
		}
	}
}

func (p *parser) unary(guards *[]bexpr) (arith, error) {
	if p.peek().op("-") {
		p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.unary(guards)
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t.op("%") || t.op("^") {
			p.next()
			rhs, err := p.arith(0, new([]bexpr))
			if err != nil {
				return nil, err
			}
			if x, err = arithOp(t.text, x, rhs); err != nil {
				return nil, err
			}
		}
		return aNeg{x}, nil
	}
	return p.primary(guards)
}

func (p *parser) primary(guards *[]bexpr) (arith, error) {
	t := p.next()
	switch {
	case t.kind == tkNum:
		return aNum(t.num), nil
	case t.kw("len"):
		return aLen{}, nil
	case t.op("("):
		x, err := p.arith(0, guards)
		if err != nil {
			return nil, err
		}
		if !p.next().op(")") {
			p.pos--
			return nil, p.syntax()
		}
		return x, nil
	case t.kind == tkKw && pnames[t.text] && p.peek().op("["):
		p.next()
		idx, err := p.arith(0, guards)
		if err != nil {
			return nil, err
		}
		size := uint32(1)
		if p.peek().op(":") {
			p.next()
			n := p.next()
			if n.kind != tkNum {
				p.pos--
				return nil, p.syntax()
			}
			size = n.num
		}
		if !p.next().op("]") {
			p.pos--
			return nil, p.syntax()
		}
		if size != 1 && size != 2 && size != 4 {
			return nil, filterErr("data size must be 1, 2, or 4")
		}
		return p.load(t.text, idx, int(size), guards)
	}
	p.pos--
	return nil, p.syntax()
}

// load follows gen_load: where proto[...] counts from, and what must hold
// for the load to mean anything.
func (p *parser) load(proto string, idx arith, size int, guards *[]bexpr) (arith, error) {
	nl := p.lay.nl
	ld := aLoad{size: size, idx: idx}
	switch proto {
	case "ether":
		ld.base = p.lay.linkHdr
		return ld, nil
	case "ip", "ip6", "arp", "rarp":
		g, err := p.protoAbbrev(proto)
		if err != nil {
			return nil, err
		}
		*guards = append(*guards, g)
		ld.base = nl
		return ld, nil
	case "tcp", "udp", "sctp", "icmp", "igmp":
		g, err := p.ipProto(protoNumbers[proto])
		if err != nil {
			return nil, err
		}
		*guards = append(*guards, g, bNot{cmp(2, nl+6, 0, "set", 0x1fff)})
		ld.base, ld.msh, ld.mshOff = nl, true, nl
		return ld, nil
	case "icmp6":
		l, err := p.linkTest(etIPv6)
		if err != nil {
			return nil, err
		}
		*guards = append(*guards, and(l, eq(1, nl+6, 58)))
		ld.base = nl + 40
		return ld, nil
	}
	return nil, filterErr("%s[...] is not supported", proto)
}
