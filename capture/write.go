package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// FrameWriter writes frames to a capture file.
type FrameWriter interface {
	WriteFrame(f Frame, comment string) error
	Flush() error
}

// blocks buffers whole blocks (pcapng blocks, pcap records) and hands them
// to the file one write call at a time, never a block split over two calls:
// a process killed between two writes leaves a file that ends on a block
// boundary, which every reader takes up to its last packet.
type blocks struct {
	w   io.Writer
	buf []byte
	err error
}

// flushAt is how much is buffered before a write, whatever the caller's
// flushing: a burst costs a write per 256 KiB, not per packet.
const flushAt = 256 << 10

// room flushes what is buffered if n more bytes would pass flushAt, so the
// block that follows starts a new write.
func (b *blocks) room(n int) {
	if len(b.buf) > 0 && len(b.buf)+n > flushAt {
		b.flush()
	}
}

func (b *blocks) flush() error {
	if b.err != nil {
		return b.err
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return b.err
}

// NgWriter writes pcapng: one section, one Interface Description Block per
// capture point (if_name NS/IFACE, if_description, nanosecond
// if_tsresol), one Enhanced Packet Block per frame with its direction in
// epb_flags and its packet id in epb_packetid. Frames are cut to their
// capture point's snap length.
type NgWriter struct {
	out   blocks
	snaps []uint32
	buf   []byte
}

var le = binary.LittleEndian

// NewNgWriter writes the section header (with comment, if any) and the
// interface blocks.
func NewNgWriter(w io.Writer, points []Point, comment string) (*NgWriter, error) {
	nw := &NgWriter{out: blocks{w: w, buf: make([]byte, 0, flushAt)}}
	// SHB: byte-order magic, version 1.0, section length unknown.
	b := le.AppendUint32(nil, ngBOM)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, ^uint64(0))
	b = appendOpt(b, 1, []byte(comment))
	b = appendOpt(b, 4, []byte("nsdump"))
	b = endOpts(b)
	nw.block(ngSHB, b)
	for _, p := range points {
		b := le.AppendUint16(nil, uint16(p.LinkType))
		b = le.AppendUint16(b, 0)
		b = le.AppendUint32(b, p.SnapLen)
		b = appendOpt(b, 2, []byte(p.Name))
		b = appendOpt(b, 3, []byte(p.Description))
		b = appendOpt(b, 9, []byte{9})
		b = endOpts(b)
		nw.block(ngIDB, b)
		nw.snaps = append(nw.snaps, p.SnapLen)
	}
	return nw, nw.out.err
}

func appendOpt(b []byte, code uint16, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	v = v[:min(len(v), 0xffff)]
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func endOpts(b []byte) []byte { return le.AppendUint32(b, 0) }

func (nw *NgWriter) block(typ uint32, body []byte) error {
	total := uint32(12 + len(body))
	nw.out.room(int(total))
	b := le.AppendUint32(nw.out.buf, typ)
	b = le.AppendUint32(b, total)
	b = append(b, body...)
	nw.out.buf = le.AppendUint32(b, total)
	return nw.out.err
}

// cut is the part of data a snap length keeps (0: all of it).
func cut(data []byte, snap uint32) []byte {
	if snap > 0 && uint32(len(data)) > snap {
		return data[:snap]
	}
	return data
}

// optPacketID is epb_packetid, 8 bytes: Wireshark's frame.packet_id.
const optPacketID = 5

// WriteFrame appends one Enhanced Packet Block; comment becomes its
// opt_comment.
func (nw *NgWriter) WriteFrame(f Frame, comment string) error {
	if f.Point < 0 || f.Point >= len(nw.snaps) {
		return fmt.Errorf("write packet: capture point %d was not declared", f.Point)
	}
	data := cut(f.Data, nw.snaps[f.Point])
	ts := uint64(f.Time.UnixNano())
	b := le.AppendUint32(nw.buf[:0], uint32(f.Point))
	b = le.AppendUint32(b, uint32(ts>>32))
	b = le.AppendUint32(b, uint32(ts))
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, uint32(max(f.Len, len(f.Data))))
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	if f.Dir != DirUnknown {
		b = appendOpt(b, 2, le.AppendUint32(nil, uint32(f.Dir)))
	}
	if f.PacketID != 0 {
		b = appendOpt(b, optPacketID, le.AppendUint64(nil, f.PacketID))
	}
	b = appendOpt(b, 1, []byte(comment))
	if f.Dir != DirUnknown || comment != "" || f.PacketID != 0 {
		b = endOpts(b)
	}
	nw.buf = b
	return nw.block(ngEPB, b)
}

// Flush writes out the buffered blocks in one write call.
func (nw *NgWriter) Flush() error { return nw.out.flush() }

// PcapWriter writes classic pcap with nanosecond timestamps; it holds one
// link type, so one capture point. Frames are cut to the snap length.
type PcapWriter struct {
	out  blocks
	snap uint32
}

// NewPcapWriter writes the file header.
func NewPcapWriter(w io.Writer, lt LinkType, snap uint32) (*PcapWriter, error) {
	pw := &PcapWriter{out: blocks{w: w, buf: make([]byte, 0, flushAt)}, snap: snap}
	b := le.AppendUint32(pw.out.buf, pcapMagicNano)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint64(b, 0)
	b = le.AppendUint32(b, snap)
	pw.out.buf = le.AppendUint32(b, uint32(lt))
	return pw, nil
}

// WriteFrame appends a record; pcap has no place for a comment or direction.
func (pw *PcapWriter) WriteFrame(f Frame, _ string) error {
	data := cut(f.Data, pw.snap)
	pw.out.room(16 + len(data))
	ns := f.Time.UnixNano()
	b := le.AppendUint32(pw.out.buf, uint32(ns/1e9))
	b = le.AppendUint32(b, uint32(ns%1e9))
	b = le.AppendUint32(b, uint32(len(data)))
	b = le.AppendUint32(b, uint32(max(f.Len, len(f.Data))))
	pw.out.buf = append(b, data...)
	return pw.out.err
}

// Flush writes out the buffered records in one write call.
func (pw *PcapWriter) Flush() error { return pw.out.flush() }
