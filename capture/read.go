package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
	ngSHB          = 0x0A0D0D0A
	ngBOM          = 0x1A2B3C4D
	ngIDB          = 1
	ngOPB          = 2
	ngSPB          = 3
	ngEPB          = 6
)

// Reader reads pcap (micro- and nanosecond, either byte order) and pcapng
// (several sections, interfaces, link types, any if_tsresol). No header
// field sizes an allocation beyond MaxSnapLen per packet and 16 MiB per
// block. Errors are *FormatError with the offset where reading stopped.
type Reader struct {
	r      *bufio.Reader
	off    int64
	ng     bool
	order  binary.ByteOrder
	points []Point
	buf    []byte
	hdr    [16]byte // a record's or block's header
	err    error
	// comments are the sections' opt_comment, in order (at most
	// maxComments): a `nsdump trace -w` file keeps its verdicts there.
	comments []string
	// custom are the Custom Blocks (at most maxCustomBlocks), and
	// customBytes the bytes of their data kept.
	custom      []CustomBlock
	customBytes int

	// pcap
	nano bool
	// pcapng: the current section's interfaces
	section []ngIface
}

type ngIface struct {
	point    int
	link     LinkType
	snap     uint32
	res      resolution
	tsOffset int64
}

// resolution is pcapng's if_tsresol: 10^-exp, or 2^-exp when binary.
type resolution struct {
	binary bool
	exp    uint8
}

// NewReader reads the file header and returns a reader positioned on the
// first packet.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 1<<20)}
	magic, err := rd.r.Peek(4)
	if err != nil {
		if len(magic) == 0 && errors.Is(err, io.EOF) {
			return nil, rd.errorf("empty file: not a pcap or pcapng file")
		}
		return nil, rd.errorf("too short for a pcap or pcapng file")
	}
	le, be := binary.LittleEndian.Uint32(magic), binary.BigEndian.Uint32(magic)
	switch {
	case le == ngSHB:
		rd.ng = true
		rd.order = binary.LittleEndian
		if err := rd.readSHB(); err != nil {
			return nil, err
		}
		return rd, nil
	case le == pcapMagicMicro || le == pcapMagicNano:
		rd.order, rd.nano = binary.LittleEndian, le == pcapMagicNano
	case be == pcapMagicMicro || be == pcapMagicNano:
		rd.order, rd.nano = binary.BigEndian, be == pcapMagicNano
	default:
		return nil, rd.errorf("not a pcap or pcapng file (magic 0x%08x)", be)
	}
	return rd, rd.readPcapHeader()
}

// Points lists the interfaces declared so far, across sections.
func (r *Reader) Points() []Point { return r.points }

// maxComments bounds the section comments kept from one file: a hostile
// file may start a new section before every packet.
const maxComments = 16

// Comments returns the comments of the pcapng sections read so far
// (opt_comment of each Section Header Block), in order.
func (r *Reader) Comments() []string { return r.comments }

// Offset is the number of bytes consumed.
func (r *Reader) Offset() int64 { return r.off }

func (r *Reader) errorf(format string, args ...any) error {
	return &FormatError{Offset: r.off, Msg: fmt.Sprintf(format, args...)}
}

func (r *Reader) truncatedf(format string, args ...any) error {
	return &FormatError{Offset: r.off, Msg: fmt.Sprintf(format, args...), Truncated: true}
}

// full reads exactly len(b) bytes; a clean end before the first byte is
// io.EOF, a partial read a truncation error.
func (r *Reader) full(b []byte) error {
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	switch {
	case err == nil:
		return nil
	case n == 0 && errors.Is(err, io.EOF):
		return io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return r.truncatedf("truncated file: wanted %d bytes, got %d", len(b), n)
	}
	return &FormatError{Offset: r.off, Msg: err.Error()}
}

// take reads the next len(b) bytes: in place in the read buffer when
// they fit there (valid until the next read, as Next promises its
// Frame.Data), into b otherwise or at the end of the file, where full
// tells a truncation. Copying every record out of the buffer, a call
// through io.ReadFull each time, cost a tenth of reading a flood.
func (r *Reader) take(b []byte) ([]byte, error) {
	if len(b) <= r.r.Size() {
		if p, err := r.r.Peek(len(b)); err == nil {
			r.r.Discard(len(b))
			r.off += int64(len(b))
			return p, nil
		}
	}
	if err := r.full(b); err != nil {
		return nil, err
	}
	return b, nil
}

// scratch returns a reusable buffer of n bytes.
func (r *Reader) scratch(n int) []byte {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	return r.buf[:n]
}

func (r *Reader) readPcapHeader() error {
	var h [24]byte
	if err := r.full(h[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return r.errorf("truncated pcap file header")
		}
		return err
	}
	major, minor := r.order.Uint16(h[4:]), r.order.Uint16(h[6:])
	if major != 2 {
		return r.errorf("unsupported pcap savefile version %d.%d", major, minor)
	}
	snap := r.order.Uint32(h[16:])
	lt := r.order.Uint32(h[20:])
	if lt&0x03FF0000 != 0 {
		return r.errorf("savefile linktype reserved field not zero (0x%08x)", lt&0x03FF0000)
	}
	r.points = []Point{{LinkType: LinkType(lt & 0xFFFF), SnapLen: snap}}
	return nil
}

// Next returns the next packet, or io.EOF after the last one. Frame.Data
// is overwritten by the following call.
func (r *Reader) Next() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	var f Frame
	var err error
	if r.ng {
		f, err = r.nextNg()
	} else {
		f, err = r.nextPcap()
	}
	if err != nil {
		r.err = err
	}
	return f, err
}

func (r *Reader) nextPcap() (Frame, error) {
	start := r.off
	h, err := r.take(r.hdr[:16]) // a field: a local array would escape, a heap allocation per packet
	if err != nil {
		return Frame{}, err
	}
	sec, frac := r.order.Uint32(h[0:]), r.order.Uint32(h[4:])
	caplen, wire := r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
	if caplen > MaxSnapLen {
		r.off = start
		return Frame{}, r.errorf("invalid packet capture length %d, bigger than the maximum of %d", caplen, MaxSnapLen)
	}
	data, err := r.take(r.scratch(int(caplen)))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Frame{}, r.truncatedf("truncated file: packet record without its %d bytes of data", caplen)
		}
		return Frame{}, err
	}
	nsec := int64(frac) * 1000
	if r.nano {
		nsec = int64(frac)
	}
	return Frame{
		Time: time.Unix(int64(sec), nsec), LinkType: r.points[0].LinkType,
		Len: max(int(wire), int(caplen)), Data: data,
	}, nil
}
