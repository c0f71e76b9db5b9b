package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// FrameWriter writes frames to a capture file.
type FrameWriter interface {
	WriteFrame(f Frame, comment string) error
	Flush() error
}

// NgWriter writes pcapng: one section, one Interface Description Block per
// capture point (if_name NS/IFACE, nanosecond if_tsresol), one Enhanced
// Packet Block per frame with its direction in epb_flags.
type NgWriter struct {
	w      *bufio.Writer
	points int
	buf    []byte
}

var le = binary.LittleEndian

// NewNgWriter writes the section header (with comment, if any) and the
// interface blocks.
func NewNgWriter(w io.Writer, points []Point, comment string) (*NgWriter, error) {
	nw := &NgWriter{w: bufio.NewWriterSize(w, 1<<16), points: len(points)}
	// SHB: byte-order magic, version 1.0, section length unknown.
	b := le.AppendUint32(nil, ngBOM)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, ^uint64(0))
	b = appendOpt(b, 1, []byte(comment))
	b = appendOpt(b, 4, []byte("nsdump"))
	b = endOpts(b)
	if err := nw.block(ngSHB, b); err != nil {
		return nil, err
	}
	for _, p := range points {
		b := le.AppendUint16(nil, uint16(p.LinkType))
		b = le.AppendUint16(b, 0)
		b = le.AppendUint32(b, p.SnapLen)
		b = appendOpt(b, 2, []byte(p.Name))
		b = appendOpt(b, 3, []byte(p.Description))
		b = appendOpt(b, 9, []byte{9})
		b = endOpts(b)
		if err := nw.block(ngIDB, b); err != nil {
			return nil, err
		}
	}
	return nw, nil
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
	var h [8]byte
	le.PutUint32(h[0:], typ)
	le.PutUint32(h[4:], total)
	nw.w.Write(h[:])
	nw.w.Write(body)
	_, err := nw.w.Write(h[4:8])
	return err
}

// WriteFrame appends one Enhanced Packet Block; comment becomes its
// opt_comment.
func (nw *NgWriter) WriteFrame(f Frame, comment string) error {
	if f.Point < 0 || f.Point >= nw.points {
		return fmt.Errorf("write packet: capture point %d was not declared", f.Point)
	}
	ts := uint64(f.Time.UnixNano())
	b := le.AppendUint32(nw.buf[:0], uint32(f.Point))
	b = le.AppendUint32(b, uint32(ts>>32))
	b = le.AppendUint32(b, uint32(ts))
	b = le.AppendUint32(b, uint32(len(f.Data)))
	b = le.AppendUint32(b, uint32(max(f.Len, len(f.Data))))
	b = append(b, f.Data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	if f.Dir != DirUnknown {
		b = appendOpt(b, 2, le.AppendUint32(nil, uint32(f.Dir)))
	}
	b = appendOpt(b, 1, []byte(comment))
	if f.Dir != DirUnknown || comment != "" {
		b = endOpts(b)
	}
	nw.buf = b
	return nw.block(ngEPB, b)
}

// Flush writes out what is buffered.
func (nw *NgWriter) Flush() error { return nw.w.Flush() }

// PcapWriter writes classic pcap with nanosecond timestamps; it holds one
// link type, so one capture point.
type PcapWriter struct {
	w *bufio.Writer
}

// NewPcapWriter writes the file header.
func NewPcapWriter(w io.Writer, lt LinkType, snap uint32) (*PcapWriter, error) {
	b := le.AppendUint32(nil, pcapMagicNano)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint64(b, 0)
	b = le.AppendUint32(b, snap)
	b = le.AppendUint32(b, uint32(lt))
	pw := &PcapWriter{w: bufio.NewWriterSize(w, 1<<16)}
	_, err := pw.w.Write(b)
	return pw, err
}

// WriteFrame appends a record; pcap has no place for a comment or direction.
func (pw *PcapWriter) WriteFrame(f Frame, _ string) error {
	var h [16]byte
	ns := f.Time.UnixNano()
	le.PutUint32(h[0:], uint32(ns/1e9))
	le.PutUint32(h[4:], uint32(ns%1e9))
	le.PutUint32(h[8:], uint32(len(f.Data)))
	le.PutUint32(h[12:], uint32(max(f.Len, len(f.Data))))
	pw.w.Write(h[:])
	_, err := pw.w.Write(f.Data)
	return err
}

// Flush writes out what is buffered.
func (pw *PcapWriter) Flush() error { return pw.w.Flush() }
