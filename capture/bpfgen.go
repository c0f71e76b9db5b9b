package capture

import (
	"encoding/binary"
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
	vm   *bpf.VM
}

// Match reports whether the frame passes the filter.
func (f *Filter) Match(data []byte) bool {
	if f == nil {
		return true
	}
	n, err := f.vm.Run(data)
	return err == nil && n > 0
}

// layout is where a link type puts the EtherType and the network header.
type layout struct {
	etherType int // offset of the EtherType, -1 for raw IP
	l3        uint32
	ethernet  bool
}

func layoutOf(lt LinkType) (layout, error) {
	switch lt {
	case LinkEthernet:
		return layout{12, 14, true}, nil
	case LinkSLL:
		return layout{14, 16, false}, nil
	case LinkSLL2:
		return layout{0, 20, false}, nil
	case LinkRaw, LinkIPv4, LinkIPv6, 12, 14:
		return layout{-1, 0, false}, nil
	}
	return layout{}, fmt.Errorf("filters on link type %d are not supported: %w", lt, ErrFilter)
}

// CompileFilter compiles a tcpdump filter expression for frames of link
// type lt. An empty expression gives a nil Filter, which matches everything.
func CompileFilter(expr string, lt LinkType) (*Filter, error) {
	ast, err := parseFilter(expr)
	if err != nil || ast == nil {
		return nil, err
	}
	lay, err := layoutOf(lt)
	if err != nil {
		return nil, err
	}
	low, err := lower(ast, lay)
	if err != nil {
		return nil, err
	}
	g := &gen{lay: lay}
	accept, reject := g.label(), g.label()
	g.compile(low, accept, reject)
	g.place(accept)
	g.emit(bpf.RetConstant{Val: MaxSnapLen})
	g.place(reject)
	g.emit(bpf.RetConstant{Val: 0})
	insns, err := g.assemble()
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("filter: %v: %w", err, ErrFilter)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		return nil, fmt.Errorf("filter: %v: %w", err, ErrFilter)
	}
	return &Filter{Expr: expr, Prog: raw, vm: vm}, nil
}

// Lowered tests: everything a filter says becomes and/or/not of these.
type (
	tConst struct{ v bool }
	tEther struct{ etherType uint16 } // or the IP version nibble on raw links
	tLoad  struct {
		size    int    // 1, 2, 4
		off     uint32 // from the start of the frame, or of the transport header when l4
		l4      bool
		mask    uint32
		hasMask bool
		op      string
		val     uint32
	}
	tLen struct {
		op  string
		val uint32
	}
)

func (tConst) isNode() {}
func (tEther) isNode() {}
func (tLoad) isNode()  {}
func (tLen) isNode()   {}

func and(ns ...node) node {
	out := ns[0]
	for _, n := range ns[1:] {
		out = andNode{out, n}
	}
	return out
}

func or(ns ...node) node {
	out := ns[0]
	for _, n := range ns[1:] {
		out = orNode{out, n}
	}
	return out
}

func eq(size int, off, val uint32) node { return tLoad{size: size, off: off, op: "==", val: val} }

const (
	etIPv4 = 0x0800
	etARP  = 0x0806
	etRARP = 0x8035
	etIPv6 = 0x86dd
)

// lower turns the syntax tree into tests on frame bytes, as libpcap's
// gencode does for the same expressions.
func lower(n node, lay layout) (node, error) {
	ip4, ip6 := node(tEther{etIPv4}), node(tEther{etIPv6})
	ipProto := func(p uint32) node { return and(ip4, eq(1, lay.l3+9, p)) }
	ip6Next := func(p uint32) node { return and(ip6, eq(1, lay.l3+6, p)) }
	notFrag := tLoad{size: 2, off: lay.l3 + 6, mask: 0x1fff, hasMask: true, op: "==", val: 0}
	switch n := n.(type) {
	case andNode:
		l, err := lower(n.l, lay)
		if err != nil {
			return nil, err
		}
		r, err := lower(n.r, lay)
		return andNode{l, r}, err
	case orNode:
		l, err := lower(n.l, lay)
		if err != nil {
			return nil, err
		}
		r, err := lower(n.r, lay)
		return orNode{l, r}, err
	case notNode:
		x, err := lower(n.n, lay)
		return notNode{x}, err
	case protoNode:
		switch n.proto {
		case "ether":
			return tConst{true}, nil
		case "ip":
			return ip4, nil
		case "ip6":
			return ip6, nil
		case "arp":
			return tEther{etARP}, nil
		case "rarp":
			return tEther{etRARP}, nil
		case "icmp":
			return ipProto(1), nil
		case "icmp6":
			return ip6Next(58), nil
		case "tcp":
			return or(ipProto(6), ip6Next(6)), nil
		case "udp":
			return or(ipProto(17), ip6Next(17)), nil
		}
	case protoNumNode:
		switch n.family {
		case "ip":
			return ipProto(n.num), nil
		case "ip6":
			return ip6Next(n.num), nil
		}
		return or(ipProto(n.num), ip6Next(n.num)), nil
	case hostNode, netNode:
		return lowerAddr(n, lay)
	case portNode:
		return lowerPort(n, lay, ipProto, ip6Next, notFrag)
	case etherNode:
		if !lay.ethernet {
			return nil, fmt.Errorf("filter: ether qualifiers need Ethernet frames: %w", ErrFilter)
		}
		switch n.kind {
		case "broadcast":
			return and(eq(4, 0, 0xffffffff), eq(2, 4, 0xffff)), nil
		case "multicast":
			return tLoad{size: 1, off: 0, mask: 1, hasMask: true, op: "!=", val: 0}, nil
		}
		at := func(off uint32) node {
			return and(eq(4, off, binary.BigEndian.Uint32(n.mac[:4])), eq(2, off+4, uint32(binary.BigEndian.Uint16(n.mac[4:]))))
		}
		return direction(n.dir, at(6), at(0))
	case lenNode:
		return tLen{op: n.op, val: n.val}, nil
	case cmpNode:
		load := tLoad{size: int(n.size), off: n.off, mask: n.mask, hasMask: n.hasMask, op: n.op, val: n.val}
		switch n.proto {
		case "ether":
			return load, nil
		case "ip":
			load.off += lay.l3
			return and(ip4, load), nil
		case "ip6":
			load.off += lay.l3
			return and(ip6, load), nil
		case "arp", "rarp":
			load.off += lay.l3
			return and(tEther{map[string]uint16{"arp": etARP, "rarp": etRARP}[n.proto]}, load), nil
		case "icmp6":
			load.off += lay.l3 + 40
			return and(ip6Next(58), load), nil
		case "tcp", "udp", "icmp":
			load.l4 = true
			return and(ipProto(map[string]uint32{"tcp": 6, "udp": 17, "icmp": 1}[n.proto]), notFrag, load), nil
		}
		return nil, fmt.Errorf("filter: %s[...] is not supported: %w", n.proto, ErrFilter)
	}
	return nil, fmt.Errorf("filter: cannot compile %T: %w", n, ErrFilter)
}

func direction(dir string, src, dst node) (node, error) {
	switch dir {
	case "src":
		return src, nil
	case "dst":
		return dst, nil
	case "", "src or dst":
		return or(src, dst), nil
	case "src and dst":
		return and(src, dst), nil
	}
	return nil, fmt.Errorf("filter: direction %q: %w", dir, ErrFilter)
}

func lowerAddr(n node, lay layout) (node, error) {
	var proto, dir string
	var addrBytes, maskBytes []byte
	switch n := n.(type) {
	case hostNode:
		proto, dir, addrBytes = n.proto, n.dir, n.addr.AsSlice()
		maskBytes = fullMask(len(addrBytes), len(addrBytes)*8)
	case netNode:
		proto, dir, addrBytes = n.proto, n.dir, n.prefix.Addr().AsSlice()
		maskBytes = fullMask(len(addrBytes), n.prefix.Bits())
	}
	match := func(off uint32) node {
		var parts []node
		for i := 0; i < len(addrBytes); i += 4 {
			m := binary.BigEndian.Uint32(maskBytes[i:])
			if m == 0 {
				continue
			}
			parts = append(parts, tLoad{size: 4, off: off + uint32(i), mask: m, hasMask: m != 0xffffffff, op: "==",
				val: binary.BigEndian.Uint32(addrBytes[i:]) & m})
		}
		if len(parts) == 0 {
			return tConst{true}
		}
		return and(parts...)
	}
	if len(addrBytes) == 16 {
		if proto != "" && proto != "ip6" {
			return nil, fmt.Errorf("filter: %q modifier applied to an IPv6 address: %w", proto, ErrFilter)
		}
		d, err := direction(dir, match(lay.l3+8), match(lay.l3+24))
		return and(tEther{etIPv6}, d), err
	}
	ip, err := direction(dir, match(lay.l3+12), match(lay.l3+16))
	if err != nil {
		return nil, err
	}
	arpLike := func(et uint16) (node, error) {
		d, err := direction(dir, match(lay.l3+14), match(lay.l3+24))
		return and(tEther{et}, d), err
	}
	switch proto {
	case "ip":
		return and(tEther{etIPv4}, ip), nil
	case "arp":
		return arpLike(etARP)
	case "rarp":
		return arpLike(etRARP)
	case "":
		a, err := arpLike(etARP)
		if err != nil {
			return nil, err
		}
		r, _ := arpLike(etRARP)
		return or(and(tEther{etIPv4}, ip), a, r), nil
	}
	return nil, fmt.Errorf("filter: %q modifier applied to host or net: %w", proto, ErrFilter)
}

func fullMask(n, bits int) []byte {
	m := make([]byte, n)
	for i := 0; i < bits; i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

func lowerPort(n portNode, lay layout, ipProto, ip6Next func(uint32) node, notFrag node) (node, error) {
	rng := func(off uint32, l4 bool) node {
		if n.lo == n.hi {
			return tLoad{size: 2, off: off, l4: l4, op: "==", val: uint32(n.lo)}
		}
		return and(tLoad{size: 2, off: off, l4: l4, op: ">=", val: uint32(n.lo)}, tLoad{size: 2, off: off, l4: l4, op: "<=", val: uint32(n.hi)})
	}
	transports := []uint32{6, 17, 132} // libpcap's port also matches SCTP
	switch n.proto {
	case "tcp":
		transports = []uint32{6}
	case "udp":
		transports = []uint32{17}
	}
	var v4, v6 []node
	for _, t := range transports {
		v4 = append(v4, ipProto(t))
		v6 = append(v6, ip6Next(t))
	}
	d4, err := direction(n.dir, rng(0, true), rng(2, true))
	if err != nil {
		return nil, err
	}
	d6, _ := direction(n.dir, rng(lay.l3+40, false), rng(lay.l3+42, false))
	four := and(or(v4...), notFrag, d4)
	six := and(or(v6...), d6)
	switch n.proto {
	case "ip":
		return four, nil
	case "ip6":
		return six, nil
	}
	return or(four, six), nil
}

// gen lays out BPF with symbolic jump targets, resolved in assemble.
type gen struct {
	lay    layout
	insns  []genInsn
	labels []int // label -> instruction index
}

type genInsn struct {
	ins          bpf.Instruction
	jump         bool
	cond         bpf.JumpTest
	val          uint32
	tLabel, fLab int
	always       int // >= 0: unconditional jump to this label
}

func (g *gen) label() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *gen) place(l int) { g.labels[l] = len(g.insns) }

func (g *gen) emit(i bpf.Instruction) { g.insns = append(g.insns, genInsn{ins: i, always: -1}) }

func (g *gen) jump(cond bpf.JumpTest, val uint32, t, f int) {
	g.insns = append(g.insns, genInsn{jump: true, cond: cond, val: val, tLabel: t, fLab: f, always: -1})
}

func (g *gen) goTo(l int) { g.insns = append(g.insns, genInsn{always: l}) }

// compile emits code that jumps to t when n holds and to f otherwise.
func (g *gen) compile(n node, t, f int) {
	switch n := n.(type) {
	case andNode:
		mid := g.label()
		g.compile(n.l, mid, f)
		g.place(mid)
		g.compile(n.r, t, f)
	case orNode:
		mid := g.label()
		g.compile(n.l, t, mid)
		g.place(mid)
		g.compile(n.r, t, f)
	case notNode:
		g.compile(n.n, f, t)
	case tConst:
		if n.v {
			g.goTo(t)
		} else {
			g.goTo(f)
		}
	case tEther:
		if g.lay.etherType < 0 {
			version := uint32(4)
			if n.etherType == etIPv6 {
				version = 6
			} else if n.etherType != etIPv4 {
				g.goTo(f)
				return
			}
			g.emit(bpf.LoadAbsolute{Off: 0, Size: 1})
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
			g.jump(bpf.JumpEqual, version, t, f)
			return
		}
		g.emit(bpf.LoadAbsolute{Off: uint32(g.lay.etherType), Size: 2})
		g.jump(bpf.JumpEqual, uint32(n.etherType), t, f)
	case tLen:
		g.emit(bpf.LoadExtension{Num: bpf.ExtLen})
		g.compare(n.op, n.val, t, f)
	case tLoad:
		if n.l4 {
			g.emit(bpf.LoadMemShift{Off: g.lay.l3})
			g.emit(bpf.LoadIndirect{Off: g.lay.l3 + n.off, Size: n.size})
		} else {
			g.emit(bpf.LoadAbsolute{Off: n.off, Size: n.size})
		}
		if n.hasMask {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: n.mask})
		}
		g.compare(n.op, n.val, t, f)
	}
}

func (g *gen) compare(op string, val uint32, t, f int) {
	switch op {
	case "=", "==":
		g.jump(bpf.JumpEqual, val, t, f)
	case "!=":
		g.jump(bpf.JumpEqual, val, f, t)
	case ">":
		g.jump(bpf.JumpGreaterThan, val, t, f)
	case ">=":
		g.jump(bpf.JumpGreaterOrEqual, val, t, f)
	case "<":
		g.jump(bpf.JumpGreaterOrEqual, val, f, t)
	case "<=":
		g.jump(bpf.JumpGreaterThan, val, f, t)
	}
}

// assemble resolves labels. Conditional jumps reach at most 255
// instructions ahead; a farther target goes through an unconditional jump
// placed right after.
func (g *gen) assemble() ([]bpf.Instruction, error) {
	// Unconditional jumps to the very next instruction vanish; far
	// conditional targets get a trampoline. Iterate until stable.
	for pass := 0; pass < 8; pass++ {
		changed := false
		for i := 0; i < len(g.insns); i++ {
			in := g.insns[i]
			if !in.jump {
				continue
			}
			for _, which := range []*int{&g.insns[i].tLabel, &g.insns[i].fLab} {
				if g.labels[*which]-(i+1) > 255 {
					tramp := g.label()
					target := *which
					*which = tramp
					g.insertAfter(i, genInsn{always: target})
					g.labels[tramp] = i + 1
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
	out := make([]bpf.Instruction, len(g.insns))
	for i, in := range g.insns {
		switch {
		case in.always >= 0:
			out[i] = bpf.Jump{Skip: uint32(g.labels[in.always] - (i + 1))}
		case in.jump:
			ts, fs := g.labels[in.tLabel]-(i+1), g.labels[in.fLab]-(i+1)
			if ts < 0 || fs < 0 || ts > 255 || fs > 255 {
				return nil, fmt.Errorf("filter: expression too large to compile: %w", ErrFilter)
			}
			out[i] = bpf.JumpIf{Cond: in.cond, Val: in.val, SkipTrue: uint8(ts), SkipFalse: uint8(fs)}
		default:
			out[i] = in.ins
		}
	}
	return out, nil
}

func (g *gen) insertAfter(i int, in genInsn) {
	g.insns = append(g.insns[:i+1], append([]genInsn{in}, g.insns[i+1:]...)...)
	for l, at := range g.labels {
		if at > i {
			g.labels[l] = at + 1
		}
	}
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

// Match reports whether the frame passes; a link type the expression cannot
// be compiled for is an error.
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
	return flt.Match(f.Data), nil
}
