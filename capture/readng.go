package capture

import (
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"time"
)

// readBlock returns the type and the body (between the length and the
// trailing length) of the next pcapng block. It handles a section header's
// byte order before trusting its length.
func (r *Reader) readBlock() (typ uint32, body []byte, err error) {
	start := r.off
	h := r.hdr[:8] // a field: a local array would escape, a heap allocation per block
	if err := r.full(h); err != nil {
		return 0, nil, err
	}
	typ = r.order.Uint32(h[0:])
	if typ == ngSHB || binary.BigEndian.Uint32(h[0:]) == ngSHB {
		typ = ngSHB
		var bom [4]byte
		if err := r.full(bom[:]); err != nil {
			return 0, nil, r.errorf("truncated section header")
		}
		switch {
		case binary.LittleEndian.Uint32(bom[:]) == ngBOM:
			r.order = binary.LittleEndian
		case binary.BigEndian.Uint32(bom[:]) == ngBOM:
			r.order = binary.BigEndian
		default:
			return 0, nil, r.errorf("section header has a bad byte-order magic 0x%x", bom)
		}
		r.off -= 4
		body = append(r.scratch(0), bom[:]...)
	}
	length := r.order.Uint32(h[4:])
	switch {
	case length < 12:
		r.off = start
		return 0, nil, r.errorf("block length %d is less than the minimum 12", length)
	case length%4 != 0:
		r.off = start
		return 0, nil, r.errorf("block length %d is not a multiple of 4", length)
	case length > maxBlock:
		r.off = start
		return 0, nil, r.errorf("block length %d exceeds the limit of %d", length, maxBlock)
	}
	rest := int(length) - 8
	have := len(body)
	buf := r.scratch(rest)
	copy(buf, body)
	if err := r.full(buf[have:]); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, nil, r.truncatedf("truncated file: block of %d bytes cut short", length)
		}
		return 0, nil, err
	}
	if trailer := r.order.Uint32(buf[rest-4:]); trailer != length {
		return 0, nil, r.errorf("block total length in header %d and trailer %d don't match", length, trailer)
	}
	return typ, buf[:rest-4], nil
}

func (r *Reader) readSHB() error {
	_, body, err := r.readBlock()
	if err != nil {
		return err
	}
	return r.startSection(body)
}

func (r *Reader) startSection(body []byte) error {
	if len(body) < 16 {
		return r.errorf("section header block too short")
	}
	major, minor := r.order.Uint16(body[4:]), r.order.Uint16(body[6:])
	if major != 1 || (minor != 0 && minor != 2) {
		return r.errorf("unsupported pcapng savefile version %d.%d", major, minor)
	}
	r.section = r.section[:0]
	// A broken option list in a section header costs its comment, not
	// the file: the packets are still there.
	_ = r.options(body[16:], func(code uint16, v []byte) {
		if code == 1 && len(r.comments) < maxComments {
			r.comments = append(r.comments, string(v))
		}
	})
	return nil
}

func (r *Reader) nextNg() (Frame, error) {
	for {
		typ, body, err := r.readBlock()
		if err != nil {
			return Frame{}, err
		}
		switch typ {
		case ngSHB:
			if err := r.startSection(body); err != nil {
				return Frame{}, err
			}
		case ngIDB:
			if err := r.addInterface(body); err != nil {
				return Frame{}, err
			}
		case ngEPB, ngOPB:
			return r.packetBlock(typ, body)
		case ngSPB:
			return r.simpleBlock(body)
		case ngCustom, ngCustomNoCopy:
			r.addCustom(body)
		}
		// Name resolution, statistics and unknown blocks: skipped.
	}
}

// options walks a pcapng option list, calling fn for each option.
func (r *Reader) options(b []byte, fn func(code uint16, v []byte)) error {
	for len(b) >= 4 {
		code, l := r.order.Uint16(b), int(r.order.Uint16(b[2:]))
		if code == 0 {
			return nil
		}
		if 4+l > len(b) {
			return r.errorf("option %d of length %d runs past the end of its block", code, l)
		}
		fn(code, b[4:4+l])
		b = b[min(4+(l+3)&^3, len(b)):]
	}
	return nil
}

// MaxInterfaces bounds the interfaces of one file, across its sections:
// each costs memory for the whole read, and a hostile file of nothing but
// interface blocks (a million in 36 MB) took 175 MiB. nsdump capture
// --all on 5,000 namespaces declares about 10,000.
const MaxInterfaces = 1 << 16

// maxIfaceText bounds an interface's name and description (nsdump's are
// a namespace, an interface, an inode and a container).
const maxIfaceText = 1 << 10

func (r *Reader) addInterface(body []byte) error {
	if len(body) < 8 {
		return r.errorf("interface description block too short")
	}
	ifc := ngIface{link: LinkType(r.order.Uint16(body)), snap: r.order.Uint32(body[4:]), res: resolution{exp: 6}}
	p := Point{LinkType: ifc.link, SnapLen: ifc.snap}
	err := r.options(body[8:], func(code uint16, v []byte) {
		switch {
		case code == 2:
			p.Name = string(v)
		case code == 3:
			p.Description = string(v)
		case code == 9 && len(v) >= 1:
			ifc.res = resolution{binary: v[0]&0x80 != 0, exp: v[0] & 0x7f}
		case code == 14 && len(v) >= 8:
			ifc.tsOffset = int64(r.order.Uint64(v))
		}
	})
	if err != nil {
		return err
	}
	if len(r.points) >= MaxInterfaces {
		return r.errorf("the file declares more than %d interfaces, more than nsdump reads", MaxInterfaces)
	}
	if len(p.Name) > maxIfaceText || len(p.Description) > maxIfaceText {
		return r.errorf("interface %d: a name or description of more than %d bytes", len(r.points), maxIfaceText)
	}
	ifc.point = len(r.points)
	r.points = append(r.points, p)
	r.section = append(r.section, ifc)
	return nil
}

func (r *Reader) iface(id uint32) (*ngIface, error) {
	if int64(id) >= int64(len(r.section)) {
		return nil, r.errorf("packet block names interface %d, but the section declares %d", id, len(r.section))
	}
	return &r.section[id], nil
}

func (r *Reader) packetBlock(typ uint32, body []byte) (Frame, error) {
	var id uint32
	if typ == ngOPB {
		if len(body) < 20 {
			return Frame{}, r.errorf("packet block too short")
		}
		id = uint32(r.order.Uint16(body))
	} else {
		if len(body) < 20 {
			return Frame{}, r.errorf("enhanced packet block too short")
		}
		id = r.order.Uint32(body)
	}
	ifc, err := r.iface(id)
	if err != nil {
		return Frame{}, err
	}
	ts := uint64(r.order.Uint32(body[4:]))<<32 | uint64(r.order.Uint32(body[8:]))
	caplen, wire := r.order.Uint32(body[12:]), r.order.Uint32(body[16:])
	if caplen > MaxSnapLen {
		return Frame{}, r.errorf("invalid packet capture length %d, bigger than the maximum of %d", caplen, MaxSnapLen)
	}
	if int(caplen) > len(body)-20 {
		return Frame{}, r.errorf("packet block claims %d captured bytes but holds %d", caplen, len(body)-20)
	}
	f := Frame{
		Time: ifc.res.time(ts, ifc.tsOffset), Point: ifc.point, LinkType: ifc.link,
		Len: max(int(wire), int(caplen)), Data: body[20 : 20+caplen],
	}
	optStart := min(20+(int(caplen)+3)&^3, len(body))
	err = r.options(body[optStart:], func(code uint16, v []byte) {
		if code == 1 && f.Comment == "" {
			f.Comment = string(v)
		}
		if code == optPacketID && len(v) == 8 {
			f.PacketID = r.order.Uint64(v)
		}
		if code == 2 && len(v) >= 4 {
			f.Dir = Direction(r.order.Uint32(v) & 3)
			if f.Dir == 3 {
				f.Dir = DirUnknown
			}
		}
	})
	return f, err
}

func (r *Reader) simpleBlock(body []byte) (Frame, error) {
	ifc, err := r.iface(0)
	if err != nil {
		return Frame{}, err
	}
	if len(body) < 4 {
		return Frame{}, r.errorf("simple packet block too short")
	}
	wire := r.order.Uint32(body)
	caplen := min(int64(wire), int64(len(body)-4), MaxSnapLen)
	if ifc.snap > 0 {
		caplen = min(caplen, int64(ifc.snap))
	}
	return Frame{Point: ifc.point, LinkType: ifc.link, Len: int(max(int64(wire), caplen)), Data: body[4 : 4+caplen], NoTime: true}, nil
}

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// time converts a pcapng timestamp without overflow or division by zero for
// any if_tsresol, 2^-127 included.
func (res resolution) time(ts uint64, offset int64) time.Time {
	var sec, nsec uint64
	n := uint(res.exp)
	if res.binary {
		frac := ts
		if n < 64 {
			sec, frac = ts>>n, ts&(1<<n-1)
		}
		hi, lo := bits.Mul64(frac, 1e9)
		switch {
		case n == 0:
			nsec = 0
		case n < 64:
			nsec = hi<<(64-n) | lo>>n
		case n < 128:
			nsec = hi >> (n - 64)
		}
	} else {
		switch {
		case n <= 9:
			sec, nsec = ts/pow10[n], ts%pow10[n]*pow10[9-n]
		case n <= 19:
			sec, nsec = ts/pow10[n], ts%pow10[n]/pow10[n-9]
		case n-9 <= 19:
			nsec = ts / pow10[n-9]
		}
	}
	return time.Unix(int64(sec)+offset, int64(nsec))
}
