package capture

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
)

// exprGen writes random filter expressions and frames built to match or
// miss them: the frames reuse the expression's own atoms (addresses,
// ports, protocols, tags) most of the time, random values otherwise.
type exprGen struct {
	r     *rand.Rand
	v4    []netip.Addr
	v6    []netip.Addr
	macs  [][6]byte
	ports []uint16
	proto []uint8
	tags  []uint32 // VLAN IDs, MPLS labels, PPPoE sessions
	lens  []int
}

func newExprGen(seed int64) *exprGen { return &exprGen{r: rand.New(rand.NewSource(seed))} }

func (g *exprGen) pick(xs ...string) string { return xs[g.r.Intn(len(xs))] }

// reset draws the atoms of the next expression.
func (g *exprGen) reset() {
	g.v4, g.v6, g.macs, g.ports, g.proto, g.tags, g.lens = nil, nil, nil, nil, nil, nil, nil
	for i := 0; i < 3; i++ {
		var a [4]byte
		g.r.Read(a[:])
		if g.r.Intn(3) == 0 {
			a[0] = 10
		}
		g.v4 = append(g.v4, netip.AddrFrom4(a))
		var b [16]byte
		g.r.Read(b[:])
		switch g.r.Intn(5) {
		case 0:
			b = [16]byte{15: 1}
		case 1:
			b = [16]byte{10: 0xff, 11: 0xff, 12: a[0], 13: a[1], 14: a[2], 15: a[3]}
		case 2:
			b = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}
		case 3:
			b = [16]byte{0xfe, 0x80, 14: b[14], 15: b[15]}
		}
		g.v6 = append(g.v6, netip.AddrFrom16(b))
		var m [6]byte
		g.r.Read(m[:])
		g.macs = append(g.macs, m)
		g.ports = append(g.ports, uint16(g.r.Intn(65536)), []uint16{22, 53, 80, 443, 7096}[g.r.Intn(5)])
		g.proto = append(g.proto, []uint8{1, 2, 6, 17, 58, 132, uint8(g.r.Intn(256))}[g.r.Intn(7)])
		g.tags = append(g.tags, uint32(g.r.Intn(4096)))
		g.lens = append(g.lens, 14+g.r.Intn(120))
	}
}

func (g *exprGen) v4s() netip.Addr { return g.v4[g.r.Intn(len(g.v4))] }
func (g *exprGen) v6s() netip.Addr { return g.v6[g.r.Intn(len(g.v6))] }
func (g *exprGen) port() uint16    { return g.ports[g.r.Intn(len(g.ports))] }

func (g *exprGen) dir() string {
	return g.pick("", "", "src ", "dst ", "src or dst ", "src and dst ", "dst or src ", "dst and src ")
}

// expr writes an expression of at most depth levels.
func (g *exprGen) expr(depth int) string {
	if depth <= 0 {
		return g.primitive()
	}
	switch g.r.Intn(9) {
	case 0, 1:
		return g.primitive()
	case 2:
		return g.pick("not ", "! ", "!") + g.expr(depth-1)
	case 3:
		return "(" + g.expr(depth-1) + ")"
	case 4:
		return g.shorthand()
	}
	n := 2 + g.r.Intn(3)
	parts := []string{g.expr(depth - 1)}
	for i := 1; i < n; i++ {
		parts = append(parts, g.pick(" and ", " or ", " && ", " || ", " and ", " or "), g.expr(depth-1))
	}
	return strings.Join(parts, "")
}

// shorthand: a value after and/or takes the qualifiers before it.
func (g *exprGen) shorthand() string {
	op := func() string { return g.pick(" or ", " and ", " or not ", " and not ", " || ") }
	switch g.r.Intn(5) {
	case 0:
		return fmt.Sprintf("%sport %d%s%d", g.pick("", "tcp ", "udp ")+g.dir(), g.port(), op(), g.port())
	case 1:
		return fmt.Sprintf("%shost %s%s%s", g.pick("", "ip ")+g.dir(), g.v4s(), op(), g.v4s())
	case 2:
		return fmt.Sprintf("%shost %s%s(%s or %s)", g.dir(), g.v4s(), op(), g.v4s(), g.v4s())
	case 3:
		return fmt.Sprintf("ip6 %shost %s%s%s", g.dir(), g.v6s(), op(), g.v6s())
	}
	return fmt.Sprintf("ip proto %d%s%d", g.proto[0], op(), g.proto[1])
}

func (g *exprGen) primitive() string {
	switch g.r.Intn(22) {
	case 0, 1:
		return g.pick("ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp")
	case 2, 3:
		return g.pick("", "ip ", "arp ", "rarp ") + g.dir() + "host " + g.v4s().String()
	case 4:
		return g.pick("", "ip6 ") + g.dir() + g.pick("host ", "") + g.v6form()
	case 5, 6:
		return g.pick("", "ip ", "arp ") + g.dir() + "net " + g.net4()
	case 7:
		return g.pick("", "ip6 ") + g.dir() + "net " + g.net6()
	case 8, 9:
		return fmt.Sprintf("%s%sport %d", g.pick("", "tcp ", "udp ", "sctp "), g.dir(), g.port())
	case 10:
		a, b := g.port(), g.port()
		return fmt.Sprintf("%s%sportrange %d-%d", g.pick("", "tcp ", "udp "), g.dir(), a, b)
	case 11:
		m := g.macs[g.r.Intn(len(g.macs))]
		mac := fmt.Sprintf("%x:%x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
		return g.pick("ether "+g.dir()+"host "+mac, "ether "+g.dir()+mac, "ether broadcast", "ether multicast",
			"broadcast", "multicast", "ip multicast", "ip broadcast", "ip6 multicast")
	case 12:
		return fmt.Sprintf("%sproto %d", g.pick("", "ip ", "ip6 "), g.proto[g.r.Intn(len(g.proto))])
	case 13:
		return g.pick("ether proto 0x800", "ether proto 0x86dd", "ether proto 0x806")
	case 14:
		return fmt.Sprintf("%s %d", g.pick("less", "greater"), g.lens[g.r.Intn(len(g.lens))])
	case 15:
		return fmt.Sprintf("len %s %d", g.relop(), g.lens[g.r.Intn(len(g.lens))])
	case 16, 17, 18:
		return g.relation()
	case 19:
		return g.pick("tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
			"icmp[icmptype] = icmp-echo", "icmp[icmptype] == icmp-echoreply", "tcp[13] & 0x12 = 0x12",
			"icmp6[icmp6type] = icmp6-echo", "ip[2:2] > 100", "ip[8] < 64", "udp[4:2] >= 100")
	case 20:
		tag := g.tags[g.r.Intn(len(g.tags))]
		switch g.r.Intn(3) {
		case 0:
			return g.pick("vlan", fmt.Sprintf("vlan %d", tag))
		case 1:
			return g.pick("mpls", fmt.Sprintf("mpls %d", tag))
		}
		return g.pick("pppoes", fmt.Sprintf("pppoes %d", tag))
	}
	return "(" + g.primitive() + ")"
}

func (g *exprGen) relop() string { return g.pick(">", "<", ">=", "<=", "=", "==", "!=") }

func (g *exprGen) relation() string {
	return g.arith(2) + " " + g.relop() + " " + g.arith(1)
}

func (g *exprGen) arith(depth int) string {
	if depth <= 0 || g.r.Intn(3) == 0 {
		switch g.r.Intn(6) {
		case 0:
			return fmt.Sprint(g.r.Intn(300))
		case 1:
			return "len"
		case 2:
			return fmt.Sprintf("0x%x", g.r.Intn(70000))
		}
		proto := g.pick("ether", "ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "ip", "tcp")
		size := g.pick("", ":1", ":2", ":4")
		if g.r.Intn(8) == 0 {
			// A negative index, or one written as its 32-bit wrap.
			// Past the link header, a transport load's offset wraps
			// in libpcap's folded program (rejected) but not in its
			// unoptimized one (X wraps back), so the differential
			// could not tell an optimizer's dead load from a fault;
			// TestFilterAgainstLibpcap has tcp[-18:2] on its own.
			most := 20
			if proto == "tcp" || proto == "udp" || proto == "icmp" {
				most = 14
			}
			idx := g.pick("-", "4294967296 - ", "0 - ")
			return fmt.Sprintf("%s[%s%d%s]", proto, idx, 1+g.r.Intn(most), size)
		}
		return fmt.Sprintf("%s[%d%s]", proto, g.r.Intn(48), size)
	}
	op := g.pick("+", "-", "*", "/", "&", "|", "<<", ">>", "%", "^", "+", "&")
	rhs := g.arith(depth - 1)
	if op == "/" || op == "%" {
		rhs = fmt.Sprint(1 + g.r.Intn(9))
	}
	if op == "<<" || op == ">>" {
		rhs = fmt.Sprint(g.r.Intn(32))
	}
	s := g.arith(depth-1) + " " + op + " " + rhs
	if g.r.Intn(2) == 0 {
		return "(" + s + ")"
	}
	return s
}

func (g *exprGen) v6form() string {
	a := g.v6s()
	if a.Is4In6() && g.r.Intn(2) == 0 {
		v := a.As16()
		return fmt.Sprintf("::ffff:%d.%d.%d.%d", v[12], v[13], v[14], v[15])
	}
	if g.r.Intn(3) == 0 {
		return a.StringExpanded()
	}
	return a.String()
}

func (g *exprGen) net4() string {
	a := g.v4s().As4()
	v := binary.BigEndian.Uint32(a[:])
	switch g.r.Intn(5) {
	case 0:
		bits := g.r.Intn(33)
		m := uint32(0)
		if bits > 0 {
			m = ^uint32(0) << (32 - bits)
		}
		if g.r.Intn(8) != 0 {
			v &= m
		}
		return fmt.Sprintf("%s/%d", ip4(v), bits)
	case 1:
		m := g.r.Uint32()
		if g.r.Intn(2) == 0 {
			m = 0xff00ff00
		}
		if g.r.Intn(8) != 0 {
			v &= m
		}
		return fmt.Sprintf("%s mask %s", ip4(v), ip4(m))
	case 2:
		return fmt.Sprintf("%d.%d.%d", a[0], a[1], a[2])
	case 3:
		return fmt.Sprintf("%d.%d", a[0], a[1])
	}
	return fmt.Sprint(a[0])
}

func ip4(v uint32) string { return fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&0xff, v>>8&0xff, v&0xff) }

func (g *exprGen) net6() string {
	a := g.v6s()
	bits := []int{0, 8, 16, 32, 48, 64, 96, 112, 120, 128}[g.r.Intn(10)]
	if g.r.Intn(8) != 0 {
		a = netip.PrefixFrom(a, bits).Masked().Addr()
	}
	return fmt.Sprintf("%s/%d", a, bits)
}

// frame builds one frame from the atoms: a data slice and its length on
// the wire (longer when the frame is cut short as by a snap length).
func (g *exprGen) frame() ([]byte, int) {
	r := g.r
	mac := func() []byte {
		switch r.Intn(5) {
		case 0:
			return []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		case 1:
			return []byte{0x01, 0x00, 0x5e, 0, 0, byte(r.Intn(256))}
		case 2:
			m := make([]byte, 6)
			r.Read(m)
			return m
		}
		m := g.macs[r.Intn(len(g.macs))]
		return m[:]
	}
	f := append(append([]byte{}, mac()...), mac()...)
	tag := func() uint32 {
		if r.Intn(3) == 0 {
			return uint32(r.Intn(1 << 20))
		}
		return g.tags[r.Intn(len(g.tags))]
	}
	et := []uint16{etIPv4, etIPv6, etARP, etRARP, 0x88cc}[[]int{0, 0, 0, 1, 1, 1, 2, 3, 4}[r.Intn(9)]]
	switch r.Intn(8) {
	case 0: // one or two VLAN tags
		for n := 1 + r.Intn(2); n > 0; n-- {
			f = binary.BigEndian.AppendUint16(f, []uint16{0x8100, 0x88a8, 0x9100}[r.Intn(3)])
			f = binary.BigEndian.AppendUint16(f, uint16(tag()&0xfff|uint32(r.Intn(16))<<12))
		}
	case 1: // an MPLS label stack
		f = binary.BigEndian.AppendUint16(f, etMPLS)
		n := 1 + r.Intn(2)
		for i := 0; i < n; i++ {
			bos := uint32(0)
			if i == n-1 {
				bos = 0x100
			}
			f = binary.BigEndian.AppendUint32(f, tag()<<12|bos|uint32(r.Intn(256)))
		}
		return g.l3(f, []uint16{etIPv4, etIPv6}[r.Intn(2)])
	case 2: // PPPoE session
		f = binary.BigEndian.AppendUint16(f, etPPPoES)
		f = append(f, 0x11, 0)
		f = binary.BigEndian.AppendUint16(f, uint16(tag()))
		f = binary.BigEndian.AppendUint16(f, 0)
		ppp := []uint16{0x21, 0x57, 0x0281}[r.Intn(3)]
		f = binary.BigEndian.AppendUint16(f, ppp)
		return g.l3(f, map[uint16]uint16{0x21: etIPv4, 0x57: etIPv6, 0x0281: etIPv4}[ppp])
	}
	f = binary.BigEndian.AppendUint16(f, et)
	return g.l3(f, et)
}

func (g *exprGen) l3(f []byte, et uint16) ([]byte, int) {
	r := g.r
	addr4 := func() []byte {
		if r.Intn(4) == 0 {
			b := make([]byte, 4)
			r.Read(b)
			return b
		}
		a := g.v4s().As4()
		if r.Intn(4) == 0 { // same network, another host
			a[3] ^= byte(r.Intn(256))
		}
		return a[:]
	}
	proto := func() uint8 {
		if r.Intn(4) == 0 {
			return uint8(r.Intn(256))
		}
		return g.proto[r.Intn(len(g.proto))]
	}
	switch et {
	case etIPv4:
		ihl := 5
		if r.Intn(5) == 0 {
			ihl = 5 + r.Intn(11)
		}
		h := make([]byte, ihl*4)
		h[0] = 0x40 | byte(ihl)
		h[1] = byte(r.Intn(256))
		r.Read(h[4:8])
		if r.Intn(3) != 0 {
			h[6], h[7] = h[6]&0x40, 0 // not a fragment
		}
		h[8] = byte(r.Intn(256))
		p := proto()
		h[9] = p
		copy(h[12:], addr4())
		copy(h[16:], addr4())
		f = append(f, h...)
		f = g.l4(f, p)
	case etIPv6:
		h := make([]byte, 40)
		h[0] = 0x60
		p := proto()
		if r.Intn(5) == 0 {
			p = 44
		}
		h[6] = p
		h[7] = byte(r.Intn(256))
		addr6 := func() []byte {
			a := g.v6s().As16()
			if r.Intn(4) == 0 {
				r.Read(a[:])
			} else if r.Intn(4) == 0 {
				a[15] ^= byte(r.Intn(256))
			}
			return a[:]
		}
		copy(h[8:], addr6())
		copy(h[24:], addr6())
		f = append(f, h...)
		if p == 44 {
			p = proto()
			f = append(f, p, 0, 0, 0, 0, 0, 0, 0)
		}
		f = g.l4(f, p)
	case etARP, etRARP:
		h := make([]byte, 28)
		copy(h, []byte{0, 1, 8, 0, 6, 4, 0, byte(1 + r.Intn(2))})
		copy(h[8:], g.macs[0][:])
		copy(h[14:], addr4())
		copy(h[24:], addr4())
		f = append(f, h...)
	default:
		n := r.Intn(60)
		for i := 0; i < n; i++ {
			f = append(f, byte(r.Intn(256)))
		}
	}
	for n := r.Intn(24); n > 0; n-- {
		f = append(f, byte(r.Intn(256)))
	}
	wire := len(f)
	switch r.Intn(10) {
	case 0: // cut short, as by a snap length
		f = f[:r.Intn(len(f)+1)]
	case 1: // padded on the wire beyond what was kept
		wire += r.Intn(1500)
	}
	return f, wire
}

func (g *exprGen) l4(f []byte, proto uint8) []byte {
	r := g.r
	switch proto {
	case 6, 17, 132:
		h := make([]byte, 20)
		r.Read(h)
		binary.BigEndian.PutUint16(h, g.port())
		binary.BigEndian.PutUint16(h[2:], g.port())
		if r.Intn(4) == 0 {
			binary.BigEndian.PutUint16(h[r.Intn(2)*2:], uint16(r.Intn(65536)))
		}
		if proto == 6 {
			h[13] = []byte{0x02, 0x12, 0x10, 0x11, 0x04, 0x18, byte(r.Intn(256))}[r.Intn(7)]
		}
		return append(f, h...)
	case 1, 58:
		h := make([]byte, 8)
		r.Read(h)
		h[0] = []byte{0, 3, 8, 11, 128, 129, 135, byte(r.Intn(256))}[r.Intn(8)]
		return append(f, h...)
	}
	return f
}
