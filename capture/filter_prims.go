package capture

import (
	"net/netip"
	"strconv"
	"strings"
)

// The primitives, lowered as libpcap's gencode.c lowers them (the
// function each follows is named in its comment).

type linkMode uint8

const (
	modeEther linkMode = iota // an EtherType at linkType
	modeRaw                   // raw IP: the version nibble tells v4 from v6
	modeMPLS                  // under an MPLS label: bottom-of-stack bit and version nibble
	modePPP                   // under PPPoE: a PPP protocol number at linkType
)

// layout is where the current link header puts things; vlan, mpls and
// pppoes move it for every primitive parsed after them.
type layout struct {
	linkHdr  uint32 // the link-layer header (ether[...])
	linkType uint32 // the EtherType or PPP protocol
	nl       uint32 // the network-layer header
	mode     linkMode
	ethernet bool // MAC addresses at linkHdr
	mpls     int  // MPLS labels passed
}

const (
	etIPv4   = 0x0800
	etARP    = 0x0806
	etRARP   = 0x8035
	etIPv6   = 0x86dd
	etMPLS   = 0x8847
	etPPPoES = 0x8864
)

func cmp(size int, off, mask uint32, op string, val uint32) bexpr {
	return bCmp{size: size, off: off, mask: mask, op: op, val: val}
}

func eq(size int, off, val uint32) bexpr { return cmp(size, off, 0, "=", val) }

func and(xs ...bexpr) bexpr { return &bList{kids: xs} }
func or(xs ...bexpr) bexpr  { return &bList{or: true, kids: xs} }

// linkTest follows gen_linktype.
func (p *parser) linkTest(et uint32) (bexpr, error) {
	l := p.lay
	switch l.mode {
	case modeMPLS:
		version := map[uint32]uint32{etIPv4: 0x40, etIPv6: 0x60}[et]
		if version == 0 {
			return nil, filterErr("unsupported protocol over mpls")
		}
		return and(cmp(1, l.nl-2, 0x01, "=", 0x01), cmp(1, l.nl, 0xf0, "=", version)), nil
	case modeRaw:
		version := map[uint32]uint32{etIPv4: 0x40, etIPv6: 0x60}[et]
		if version == 0 {
			return bConst(false), nil
		}
		return cmp(1, 0, 0xf0, "=", version), nil
	case modePPP:
		switch et {
		case etIPv4:
			et = 0x0021
		case etIPv6:
			et = 0x0057
		}
	}
	return eq(2, l.linkType, et), nil
}

// ipProto is "ip proto v" (gen_cmp on the protocol field).
func (p *parser) ipProto(v uint32) (bexpr, error) {
	l, err := p.linkTest(etIPv4)
	if err != nil {
		return nil, err
	}
	return and(l, eq(1, p.lay.nl+9, v)), nil
}

// ip6Proto is "ip6 proto v": the next header, or the one after a
// fragment header (gen_proto for Q_IPV6).
func (p *parser) ip6Proto(v uint32) (bexpr, error) {
	l, err := p.linkTest(etIPv6)
	if err != nil {
		return nil, err
	}
	nl := p.lay.nl
	return and(l, or(eq(1, nl+6, v), and(eq(1, nl+6, 44), eq(1, nl+40, v)))), nil
}

func (p *parser) eitherProto(v uint32) (bexpr, error) {
	a, err := p.ipProto(v)
	if err != nil {
		return nil, err
	}
	b, err := p.ip6Proto(v)
	return or(a, b), err
}

var protoNumbers = map[string]uint32{"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "igmp": 2, "icmp6": 58}

// protoAbbrev follows gen_proto_abbrev: a protocol name alone.
func (p *parser) protoAbbrev(name string) (bexpr, error) {
	switch name {
	case "ether":
		return nil, filterErr("link layer applied in wrong context")
	case "ip":
		return p.linkTest(etIPv4)
	case "ip6":
		return p.linkTest(etIPv6)
	case "arp":
		return p.linkTest(etARP)
	case "rarp":
		return p.linkTest(etRARP)
	case "tcp", "udp", "sctp":
		return p.eitherProto(protoNumbers[name])
	case "icmp", "igmp":
		return p.ipProto(protoNumbers[name])
	case "icmp6":
		return p.ip6Proto(58)
	}
	return nil, filterErr("'%s' is not supported by nsdump", name)
}

// castOf follows gen_broadcast and gen_multicast. As with a capture file
// in tcpdump, the netmask is 0: "ip broadcast" is a destination of all
// zeros or all ones.
func (p *parser) castOf(proto, kind string) (bexpr, error) {
	switch proto {
	case "", "ether":
		if !p.lay.ethernet {
			return nil, filterErr("%s on a link type without Ethernet addresses", kind)
		}
		if kind == "broadcast" {
			return p.ehost([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "dst")
		}
		return cmp(1, p.lay.linkHdr, 0, "set", 1), nil
	case "ip":
		l, err := p.linkTest(etIPv4)
		if err != nil {
			return nil, err
		}
		if kind == "broadcast" {
			return and(l, or(eq(4, p.lay.nl+16, 0), eq(4, p.lay.nl+16, 0xffffffff))), nil
		}
		return and(l, cmp(1, p.lay.nl+16, 0, ">=", 224)), nil
	case "ip6":
		if kind == "multicast" {
			l, err := p.linkTest(etIPv6)
			if err != nil {
				return nil, err
			}
			return and(l, eq(1, p.lay.nl+24, 255)), nil
		}
	}
	return nil, filterErr("only link-layer, IP and IPv6 %s filters are supported", kind)
}

// encap follows gen_vlan (as for a file: the tag in the frame), gen_mpls
// and gen_pppoes, and moves the layout for what follows.
func (p *parser) encap(kind string, num uint32, has bool) (bexpr, error) {
	l := &p.lay
	switch kind {
	case "vlan":
		if l.mpls > 0 {
			return nil, filterErr("no VLAN match after MPLS")
		}
		if !l.ethernet || l.mode != modeEther {
			return nil, filterErr("no VLAN support for this link type")
		}
		b := or(eq(2, l.linkType, 0x8100), eq(2, l.linkType, 0x88a8), eq(2, l.linkType, 0x9100))
		if has {
			if num > 0x0fff {
				return nil, filterErr("VLAN tag %d greater than maximum %d", num, 0x0fff)
			}
			b = and(b, cmp(2, l.nl, 0x0fff, "=", num))
		}
		l.linkType += 4
		l.nl += 4
		return b, nil
	case "mpls":
		var b bexpr
		switch {
		case l.mpls > 0:
			b = cmp(1, l.nl-2, 0x01, "=", 0)
		case l.mode == modeEther && l.ethernet:
			b = eq(2, l.linkType, etMPLS)
		case l.mode == modePPP:
			b = eq(2, l.linkType, 0x0281)
		default:
			return nil, filterErr("no MPLS support for this link type")
		}
		if has {
			if num > 0xfffff {
				return nil, filterErr("MPLS label %d greater than maximum %d", num, 0xfffff)
			}
			b = and(b, cmp(4, l.nl, 0xfffff000, "=", num<<12))
		}
		l.nl += 4
		l.mpls++
		l.mode = modeMPLS
		return b, nil
	}
	b, err := p.linkTest(etPPPoES)
	if err != nil {
		return nil, err
	}
	if has {
		if num > 0xffff {
			return nil, filterErr("PPPoE session number %d greater than maximum %d", num, 0xffff)
		}
		b = and(b, cmp(4, l.nl, 0xffff, "=", num))
	}
	l.linkHdr = l.nl + 6
	l.linkType = l.linkHdr
	l.nl = l.linkHdr + 2
	l.mode = modePPP
	l.ethernet = false
	return b, nil
}

// direction combines a test on the source and one on the destination as
// the qualifier says.
func direction(dir string, src, dst func() bexpr) (bexpr, error) {
	switch dir {
	case "src":
		return src(), nil
	case "dst":
		return dst(), nil
	case "", "or":
		return or(src(), dst()), nil
	case "and":
		return and(src(), dst()), nil
	}
	return nil, filterErr("direction %q", dir)
}

// atoin follows __pcap_atoin: up to four decimal parts, each at most 255;
// the result is left-aligned later by the caller.
func atoin(s string) (uint32, int, error) {
	var v uint32
	n := 0
	for _, part := range strings.Split(s, ".") {
		x, err := strconv.ParseUint(part, 10, 32)
		if err != nil || x > 255 {
			return 0, 0, filterErr("invalid IPv4 address '%s'", s)
		}
		v = v<<8 | uint32(x)
		n += 8
	}
	return v, n, nil
}

func shl(v uint32, n int) uint32 {
	if n >= 32 {
		return 0
	}
	return v << n
}

// ncode follows gen_ncode: a number or dotted address with qualifiers.
func (p *parser) ncode(s string, v uint32, q qual) (bexpr, error) {
	vlen := 32
	if s != "" {
		var err error
		if v, vlen, err = atoin(s); err != nil {
			return nil, err
		}
		switch q.addr {
		case "port", "portrange", "proto":
			return nil, filterErr("'%s' qualifier applied to IPv4 address", q.addr)
		}
	}
	switch q.addr {
	case "", "host", "net":
		if q.proto == "ether" {
			return nil, filterErr("illegal link layer address")
		}
		mask := uint32(0xffffffff)
		if s == "" && q.addr == "net" {
			for v != 0 && v&0xff000000 == 0 {
				v <<= 8
				mask <<= 8
			}
		} else {
			v, mask = shl(v, 32-vlen), shl(mask, 32-vlen)
		}
		return p.host4(v, mask, q)
	case "port", "portrange":
		if v > 65535 {
			return nil, filterErr("illegal port number %d > 65535", v)
		}
		return p.port(v, v, q)
	case "proto":
		return p.proto(v, q)
	}
	return nil, filterErr("'%s' qualifier with a number", q.addr)
}

// mcode follows gen_mcode: "net A/LEN" and "net A mask M", any mask.
func (p *parser) mcode(s1, s2 string, masklen uint32, q qual) (bexpr, error) {
	switch q.addr {
	case "port", "portrange", "proto":
		return nil, filterErr("'%s' qualifier applied to IPv4 address and netmask", q.addr)
	}
	n, nlen, err := atoin(s1)
	if err != nil {
		return nil, err
	}
	n = shl(n, 32-nlen)
	var m uint32
	if s2 != "" {
		mv, mlen, err := atoin(s2)
		if err != nil {
			return nil, err
		}
		m = shl(mv, 32-mlen)
		if n&^m != 0 {
			return nil, filterErr("non-network bits set in \"%s mask %s\"", s1, s2)
		}
	} else {
		if masklen > 32 {
			return nil, filterErr("mask length must be <= 32")
		}
		m = shl(0xffffffff, int(32-masklen))
		if n&^m != 0 {
			return nil, filterErr("non-network bits set in \"%s/%d\"", s1, masklen)
		}
	}
	if q.addr != "net" {
		return nil, filterErr("Mask syntax for networks only")
	}
	return p.host4(n, m, q)
}

// host4 follows gen_host for IPv4 addresses and networks.
func (p *parser) host4(addr, mask uint32, q qual) (bexpr, error) {
	op := func(et, srcOff, dstOff uint32) (bexpr, error) {
		l, err := p.linkTest(et)
		if err != nil {
			return nil, err
		}
		at := func(off uint32) func() bexpr {
			return func() bexpr {
				if mask == 0 {
					return bConst(true)
				}
				if mask == 0xffffffff {
					return eq(4, p.lay.nl+off, addr)
				}
				return cmp(4, p.lay.nl+off, mask, "=", addr&mask)
			}
		}
		d, err := direction(q.dir, at(srcOff), at(dstOff))
		return and(l, d), err
	}
	switch q.proto {
	case "":
		ip, err := op(etIPv4, 12, 16)
		if err != nil || p.lay.mpls > 0 {
			return ip, err
		}
		a, _ := op(etARP, 14, 24)
		r, _ := op(etRARP, 14, 24)
		return or(ip, a, r), nil
	case "ip":
		return op(etIPv4, 12, 16)
	case "arp":
		return op(etARP, 14, 24)
	case "rarp":
		return op(etRARP, 14, 24)
	case "ether":
		return nil, filterErr("link-layer modifier applied to %s", hostOrNet(q))
	case "ip6":
		return nil, filterErr("'ip6' modifier applied to ip host")
	}
	return nil, filterErr("'%s' modifier applied to %s", q.proto, hostOrNet(q))
}

func hostOrNet(q qual) string {
	if q.addr == "net" {
		return "net"
	}
	return "host"
}

// mcode6 follows gen_mcode6 and gen_host6: an IPv6 address, /LEN for a
// network. Every literal form libpcap's scanner takes is an address here.
func (p *parser) mcode6(s string, bits uint32, q qual) (bexpr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return nil, filterErr("bogus IPv6 address %s", s)
	}
	switch q.addr {
	case "port", "portrange", "proto":
		return nil, filterErr("'%s' qualifier applied to IPv6 address", q.addr)
	}
	if bits > 128 {
		return nil, filterErr("mask length must be <= 128")
	}
	var mask [16]byte
	for i := 0; i < int(bits); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	ab := a.As16()
	for i := range ab {
		if ab[i]&^mask[i] != 0 {
			return nil, filterErr("non-network bits set in \"%s/%d\"", s, bits)
		}
	}
	if (q.addr == "" || q.addr == "host") && bits != 128 {
		return nil, filterErr("Mask syntax for networks only")
	}
	if q.addr != "" && q.addr != "host" && q.addr != "net" {
		return nil, filterErr("invalid qualifier against IPv6 address")
	}
	if q.proto != "" && q.proto != "ip6" {
		if q.proto == "ether" {
			return nil, filterErr("link-layer modifier applied to ip6 %s", hostOrNet(q))
		}
		return nil, filterErr("'%s' modifier applied to ip6 %s", q.proto, hostOrNet(q))
	}
	l, err := p.linkTest(etIPv6)
	if err != nil {
		return nil, err
	}
	at := func(off uint32) func() bexpr {
		return func() bexpr {
			var parts []bexpr
			for w := uint32(0); w < 16; w += 4 {
				m := be32(mask[w:])
				switch m {
				case 0:
				case 0xffffffff:
					parts = append(parts, eq(4, p.lay.nl+off+w, be32(ab[w:])))
				default:
					parts = append(parts, cmp(4, p.lay.nl+off+w, m, "=", be32(ab[w:])))
				}
			}
			return and(parts...)
		}
	}
	d, err := direction(q.dir, at(8), at(24))
	return and(l, d), err
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// ecode follows gen_ecode: a MAC address under "ether".
func (p *parser) ecode(s string, q qual) (bexpr, error) {
	if (q.addr != "" && q.addr != "host") || q.proto != "ether" {
		return nil, filterErr("ethernet address used in non-ether expression")
	}
	var mac [6]byte
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' || r == '.' })
	if len(parts) != 6 {
		parts = nil
		h := strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '.' }), "")
		for i := 0; i+2 <= len(h); i += 2 {
			parts = append(parts, h[i:i+2])
		}
	}
	for i := range mac {
		x, _ := strconv.ParseUint(parts[i], 16, 8)
		mac[i] = byte(x)
	}
	return p.ehost(mac, q.dir)
}

// ehost follows gen_ehostop.
func (p *parser) ehost(mac [6]byte, dir string) (bexpr, error) {
	if !p.lay.ethernet {
		return nil, filterErr("ether qualifiers need Ethernet frames")
	}
	at := func(off uint32) func() bexpr {
		return func() bexpr {
			off += p.lay.linkHdr
			return and(eq(4, off+2, be32(mac[2:])), eq(2, off, uint32(mac[0])<<8|uint32(mac[1])))
		}
	}
	return direction(dir, at(6), at(0))
}

// scode follows gen_scode for what needs no name lookup: "portrange
// LO-HI". Names of hosts, networks, services and protocols are refused.
func (p *parser) scode(s string, q qual) (bexpr, error) {
	switch q.addr {
	case "portrange":
		lo, hi, ok := strings.Cut(s, "-")
		l, err1 := strconv.ParseUint(lo, 10, 32)
		h, err2 := strconv.ParseUint(hi, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			return nil, filterErr("portrange '%s': give numbers (nsdump does not resolve service names)", s)
		}
		if l > 65535 || h > 65535 {
			return nil, filterErr("illegal port number %d > 65535", max(l, h))
		}
		if l > h {
			l, h = h, l
		}
		return p.port(uint32(l), uint32(h), q)
	case "port":
		return nil, filterErr("port '%s': give a number (nsdump does not resolve service names)", s)
	case "proto":
		return nil, filterErr("proto '%s': give a number (nsdump does not resolve protocol names)", s)
	}
	return nil, filterErr("host '%s': give an address (nsdump does not resolve host names)", s)
}

// proto follows gen_proto: "[ip|ip6|ether] proto N".
func (p *parser) proto(v uint32, q qual) (bexpr, error) {
	if q.dir != "" {
		return nil, filterErr("direction applied to 'proto'")
	}
	switch q.proto {
	case "":
		return p.eitherProto(v)
	case "ip":
		return p.ipProto(v)
	case "ip6":
		return p.ip6Proto(v)
	case "ether":
		if v <= 1500 || p.lay.mode == modeRaw {
			return nil, filterErr("ether proto %d: only EtherTypes above 1500 are supported by nsdump", v)
		}
		return p.linkTest(v)
	}
	return nil, filterErr("'%s proto' is bogus", q.proto)
}

// port follows gen_port/gen_port6 and their range forms: TCP, UDP or
// SCTP, over IPv4 (not a later fragment) or IPv6 (the next header only).
func (p *parser) port(lo, hi uint32, q qual) (bexpr, error) {
	var protos []uint32
	switch q.proto {
	case "tcp", "udp", "sctp":
		protos = []uint32{protoNumbers[q.proto]}
	case "":
		protos = []uint32{132, 6, 17}
	default:
		return nil, filterErr("illegal qualifier of '%s'", q.addr)
	}
	switch q.dir {
	case "", "src", "dst", "or", "and":
	default:
		return nil, filterErr("direction %q applied to port", q.dir)
	}
	nl := p.lay.nl
	at := func(ind bool, off uint32) func() bexpr {
		return func() bexpr {
			c := bCmp{size: 2, off: off, ind: ind, msh: nl, op: "="}
			if lo == hi {
				c.val = lo
				return c
			}
			ge, le := c, c
			ge.op, ge.val = ">=", lo
			le.op, le.val = ">", hi
			return and(ge, bNot{le})
		}
	}
	l6, err := p.linkTest(etIPv6)
	if err != nil {
		return nil, err
	}
	l4, _ := p.linkTest(etIPv4)
	var in6, in4 []bexpr
	for _, pr := range protos {
		in6 = append(in6, eq(1, nl+6, pr))
		in4 = append(in4, eq(1, nl+9, pr))
	}
	d6, err := direction(q.dir, at(false, nl+40), at(false, nl+42))
	if err != nil {
		return nil, err
	}
	d4, _ := direction(q.dir, at(true, nl), at(true, nl+2))
	notFrag := bNot{cmp(2, nl+6, 0, "set", 0x1fff)}
	return or(and(l6, or(in6...), d6), and(l4, or(in4...), notFrag, d4)), nil
}
