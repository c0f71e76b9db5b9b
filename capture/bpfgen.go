package capture

import (
	"fmt"
	"strings"

	"golang.org/x/net/bpf"
)

// Filter is a compiled filter expression: classic BPF for a socket, and the
// same program run in userland on frames that may predate the socket filter
// or come from a file.
type Filter struct {
	Expr string
	Prog []bpf.RawInstruction
}

// KernelMaxInsns is the longest program the kernel attaches to a socket
// (BPF_MAXINSNS).
const KernelMaxInsns = 4096

// maxInsns bounds a program run in userland.
const maxInsns = 1 << 20

// forLink is the filter for frames of link type lt, compiled again from
// its expression unless lt is Ethernet, what the filter was compiled for;
// point names the capture point in the error.
func (f *Filter) forLink(lt LinkType, point string) (*Filter, error) {
	if f == nil || lt == LinkEthernet {
		return f, nil
	}
	if f.Expr == "" {
		return nil, fmt.Errorf("capture on %s (link type %s): the filter has no expression to compile for it", point, lt)
	}
	g, err := CompileFilter(f.Expr, lt)
	if err != nil {
		return nil, fmt.Errorf("filter for %s (link type %s): %w", point, lt, err)
	}
	return g, nil
}

// FitsKernel reports whether the kernel takes the program; a longer one
// runs in userland only.
func (f *Filter) FitsKernel() bool { return f == nil || len(f.Prog) <= KernelMaxInsns }

// Match reports whether a whole frame passes the filter.
func (f *Filter) Match(data []byte) bool { return f.MatchLen(data, len(data)) }

// MatchLen reports whether a frame, of which data holds the first bytes of
// wireLen, passes: "len", "less" and "greater" see the length on the wire,
// as the kernel's filter does (and libpcap's on a file's original length).
func (f *Filter) MatchLen(data []byte, wireLen int) bool {
	if f == nil {
		return true
	}
	if wireLen < len(data) {
		wireLen = len(data)
	}
	return runBPF(f.Prog, data, uint32(wireLen)) > 0
}

// layoutOf is where a link type puts the EtherType and the network header.
func layoutOf(lt LinkType) (layout, error) {
	switch lt {
	case LinkEthernet:
		return layout{linkType: 12, nl: 14, ethernet: true}, nil
	case LinkSLL:
		return layout{linkType: 14, nl: 16}, nil
	case LinkSLL2:
		return layout{linkType: 0, nl: 20}, nil
	case LinkRaw, LinkIPv4, LinkIPv6, 12, 14:
		return layout{mode: modeRaw}, nil
	}
	return layout{}, filterErr("link type %d is not supported", lt)
}

// CompileFilter compiles a tcpdump filter expression for frames of link
// type lt. An empty expression gives a nil Filter, which matches everything.
func CompileFilter(expr string, lt LinkType) (*Filter, error) {
	lay, err := layoutOf(lt)
	if err != nil {
		return nil, err
	}
	ast, err := parseFilter(expr, lay)
	if err != nil || ast == nil {
		return nil, err
	}
	if d := treeDepth(ast); d > maxTreeDepth {
		return nil, filterErr("expression nested deeper than %d levels", maxTreeDepth)
	}
	insns, err := generate(ast)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, filterErr("%v", err)
	}
	return &Filter{Expr: expr, Prog: raw}, nil
}

// The tests a filter is made of: and/or/not of comparisons.
type (
	bexpr interface{}
	bList struct {
		or   bool
		kids []bexpr
	}
	bNot   struct{ x bexpr }
	bConst bool
	// bCmp loads size bytes at off (after X = 4*(frame[msh]&0xf) when
	// ind), masks when mask != 0, and compares: "=", ">", ">=", or "set"
	// (any bit of val).
	bCmp struct {
		size      int
		off, msh  uint32
		ind       bool
		mask, val uint32
		op        string
	}
	// bRel compares two arithmetic values.
	bRel struct {
		l, r arith
		op   string
	}
)

const maxTreeDepth = 10000

// treeDepth measures the tree without recursion.
func treeDepth(root any) int {
	type item struct {
		n any
		d int
	}
	deepest := 0
	stack := []item{{root, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		deepest = max(deepest, it.d)
		if deepest > maxTreeDepth {
			return deepest
		}
		push := func(n any) { stack = append(stack, item{n, it.d + 1}) }
		switch n := it.n.(type) {
		case *bList:
			for _, k := range n.kids {
				push(k)
			}
		case bNot:
			push(n.x)
		case bRel:
			push(n.l)
			push(n.r)
		case aLoad:
			push(n.idx)
		case aBin:
			push(n.l)
			push(n.r)
		case aNeg:
			push(n.x)
		}
	}
	return deepest
}

// gen emits the program backwards, from the returns to the entry, so that
// every jump target is already placed: one pass, linear in the size of
// the expression. rev[i] is the instruction i places before the end.
type gen struct {
	rev []bpf.Instruction
	err error
}

func generate(root bexpr) ([]bpf.Instruction, error) {
	g := &gen{}
	g.rev = append(g.rev, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: MaxSnapLen})
	entry := g.compile(root, 1, 0)
	if g.err != nil {
		return nil, g.err
	}
	if entry != len(g.rev)-1 {
		g.ja(entry)
	}
	if len(g.rev) > maxInsns {
		return nil, filterErr("program longer than %d instructions", maxInsns)
	}
	out := make([]bpf.Instruction, len(g.rev))
	for i, in := range g.rev {
		out[len(g.rev)-1-i] = in
	}
	return out, nil
}

func (g *gen) emit(in bpf.Instruction) int {
	g.rev = append(g.rev, in)
	if len(g.rev) > maxInsns && g.err == nil {
		g.err = filterErr("program longer than %d instructions", maxInsns)
	}
	return len(g.rev) - 1
}

func (g *gen) ja(target int) int { return g.emit(bpf.Jump{Skip: uint32(len(g.rev) - target - 1)}) }

// jump emits a conditional jump to t or f, through an unconditional jump
// placed after it when a target is beyond the 255 instructions a
// conditional jump reaches.
func (g *gen) jump(cond bpf.JumpTest, val uint32, useX bool, t, f int) int {
	for {
		i := len(g.rev)
		switch {
		case i-t-1 > 255:
			t = g.ja(t)
		case i-f-1 > 255:
			f = g.ja(f)
		default:
			ts, fs := uint8(i-t-1), uint8(i-f-1)
			if useX {
				return g.emit(bpf.JumpIfX{Cond: cond, SkipTrue: ts, SkipFalse: fs})
			}
			return g.emit(bpf.JumpIf{Cond: cond, Val: val, SkipTrue: ts, SkipFalse: fs})
		}
	}
}

// compile emits code that goes to t when n holds, to f otherwise, and
// returns where that code starts.
func (g *gen) compile(n bexpr, t, f int) int {
	if g.err != nil {
		return t
	}
	switch n := n.(type) {
	case *bList:
		next := t
		if n.or {
			next = f
		}
		for i := len(n.kids) - 1; i >= 0; i-- {
			if n.or {
				next = g.compile(n.kids[i], t, next)
			} else {
				next = g.compile(n.kids[i], next, f)
			}
		}
		return next
	case bNot:
		return g.compile(n.x, f, t)
	case bConst:
		if n {
			return t
		}
		return f
	case bCmp:
		g.jump(cmpConds[n.op], n.val, false, t, f)
		if n.mask != 0 {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: n.mask})
		}
		if !n.ind {
			return g.emit(bpf.LoadAbsolute{Off: n.off, Size: n.size})
		}
		g.emit(bpf.LoadIndirect{Off: n.off, Size: n.size})
		return g.emit(bpf.LoadMemShift{Off: n.msh})
	case bRel:
		return g.relation(n, t, f)
	}
	g.err = filterErr("cannot compile %T", n)
	return t
}

var cmpConds = map[string]bpf.JumpTest{"=": bpf.JumpEqual, ">": bpf.JumpGreaterThan, ">=": bpf.JumpGreaterOrEqual, "set": bpf.JumpBitsSet}

func (g *gen) relation(n bRel, t, f int) int {
	cond, swap := bpf.JumpEqual, false
	switch n.op {
	case ">":
		cond = bpf.JumpGreaterThan
	case ">=":
		cond = bpf.JumpGreaterOrEqual
	case "<=":
		cond, swap = bpf.JumpGreaterThan, true
	case "<":
		cond, swap = bpf.JumpGreaterOrEqual, true
	case "!=":
		swap = true
	}
	if swap {
		t, f = f, t
	}
	var code []bpf.Instruction
	var err error
	k, constant := n.r.(aNum)
	if code, err = evalArith(code, n.l, 0); err == nil && !constant {
		code = append(code, bpf.StoreScratch{Src: bpf.RegA, N: 0})
		if code, err = evalArith(code, n.r, 1); err == nil {
			code = append(code, bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: 0})
		}
	}
	if err != nil {
		g.err = err
		return t
	}
	at := g.jump(cond, uint32(k), !constant, t, f)
	for i := len(code) - 1; i >= 0; i-- {
		at = g.emit(code[i])
	}
	return at
}

var aluOps = map[string]bpf.ALUOp{"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub, "*": bpf.ALUOpMul, "/": bpf.ALUOpDiv,
	"%": bpf.ALUOpMod, "&": bpf.ALUOpAnd, "|": bpf.ALUOpOr, "^": bpf.ALUOpXor, "<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight}

// evalArith appends straight-line code that leaves a in A, using scratch
// memory from slot up.
func evalArith(code []bpf.Instruction, a arith, slot uint32) ([]bpf.Instruction, error) {
	if slot >= 16 {
		return nil, filterErr("too many registers needed to evaluate expression")
	}
	switch a := a.(type) {
	case aNum:
		return append(code, bpf.LoadConstant{Dst: bpf.RegA, Val: uint32(a)}), nil
	case aLen:
		return append(code, bpf.LoadExtension{Num: bpf.ExtLen}), nil
	case aNeg:
		code, err := evalArith(code, a.x, slot)
		return append(code, bpf.NegateA{}), err
	case aBin:
		code, err := evalArith(code, a.l, slot)
		if err != nil {
			return nil, err
		}
		if k, ok := a.r.(aNum); ok {
			return append(code, bpf.ALUOpConstant{Op: aluOps[a.op], Val: uint32(k)}), nil
		}
		code = append(code, bpf.StoreScratch{Src: bpf.RegA, N: int(slot)})
		if code, err = evalArith(code, a.r, slot+1); err != nil {
			return nil, err
		}
		return append(code, bpf.TAX{}, bpf.LoadScratch{Dst: bpf.RegA, N: int(slot)}, bpf.ALUOpX{Op: aluOps[a.op]}), nil
	case aLoad:
		if k, ok := foldedIndex(a.idx); ok {
			if a.msh {
				return append(code, bpf.LoadMemShift{Off: a.mshOff}, bpf.LoadIndirect{Off: a.base + k, Size: a.size}), nil
			}
			return append(code, bpf.LoadAbsolute{Off: a.base + k, Size: a.size}), nil
		}
		code, err := evalArith(code, a.idx, slot)
		if err != nil {
			return nil, err
		}
		if a.msh {
			code = append(code, bpf.StoreScratch{Src: bpf.RegA, N: int(slot)}, bpf.LoadMemShift{Off: a.mshOff},
				bpf.LoadScratch{Dst: bpf.RegA, N: int(slot)}, bpf.ALUOpX{Op: bpf.ALUOpAdd})
		}
		return append(code, bpf.TAX{}, bpf.LoadIndirect{Off: a.base, Size: a.size}), nil
	}
	return nil, filterErr("cannot evaluate %T", a)
}

// foldedIndex is the index libpcap's optimizer turns into the load's own
// offset: arithmetic of numbers only, wrapped at 32 bits, so ip[-1] loads
// the byte before the IP header as tcpdump does (an indirect load through
// X = 0xffffffff would overflow and reject every frame). An index that
// loads or reads len stays a computed, indirect load.
func foldedIndex(idx arith) (uint32, bool) {
	if !numbersOnly(idx) {
		return 0, false
	}
	return constVal(idx)
}

func numbersOnly(a arith) bool {
	switch a := a.(type) {
	case aNum:
		return true
	case aNeg:
		return numbersOnly(a.x)
	case aBin:
		return numbersOnly(a.l) && numbersOnly(a.r)
	}
	return false
}

// String disassembles the program, one instruction a line, for tests.
func (f *Filter) String() string {
	insns, _ := bpf.Disassemble(f.Prog)
	var b strings.Builder
	for i, in := range insns {
		fmt.Fprintf(&b, "(%03d) %v\n", i, in)
	}
	return b.String()
}

// FilterSet is one expression compiled for each link type it meets, as a
// file may mix link types. A nil FilterSet matches every frame.
type FilterSet struct {
	expr   string
	byLink map[LinkType]*Filter
}

// NewFilterSet checks the expression (compiling it for Ethernet) and
// returns nil for an empty one.
func NewFilterSet(expr string) (*FilterSet, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	f, err := CompileFilter(expr, LinkEthernet)
	if err != nil {
		return nil, err
	}
	return &FilterSet{expr: expr, byLink: map[LinkType]*Filter{LinkEthernet: f}}, nil
}

// Match reports whether the frame passes, judging lengths by the length on
// the wire; a link type the expression cannot be compiled for is an error.
func (s *FilterSet) Match(f Frame) (bool, error) {
	if s == nil {
		return true, nil
	}
	flt, ok := s.byLink[f.LinkType]
	if !ok {
		var err error
		if flt, err = CompileFilter(s.expr, f.LinkType); err != nil {
			return false, err
		}
		s.byLink[f.LinkType] = flt
	}
	return flt.MatchLen(f.Data, f.Len), nil
}
