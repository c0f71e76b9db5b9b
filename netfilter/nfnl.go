package netfilter

import (
	"encoding/binary"
	"fmt"
)

// The nfnetlink wire format, as far as nftables, its trace events and
// ctnetlink need it: a 16-byte netlink header, a 4-byte nfgenmsg, then
// attributes (length, type, value padded to 4 bytes). Numbers inside
// nftables and conntrack attributes are big-endian.

const (
	nlaNested   = 0x8000
	nlaByteOrd  = 0x4000
	nlaTypeMask = ^uint16(nlaNested | nlaByteOrd)
	nlmsgHdrLen = 16
	nfgenLen    = 4
)

// attr is one decoded attribute; Data aliases the message.
type attr struct {
	Type uint16
	Data []byte
}

// parseAttrs splits b into attributes, checking every length against what is
// left; a truncated or overlong attribute is an error naming its offset.
func parseAttrs(b []byte) ([]attr, error) {
	var out []attr
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return out, fmt.Errorf("attribute at offset %d: %d bytes left, header needs 4", off, len(b)-off)
		}
		l := int(binary.LittleEndian.Uint16(b[off:]))
		t := binary.LittleEndian.Uint16(b[off+2:])
		if l < 4 || l > len(b)-off {
			return out, fmt.Errorf("attribute at offset %d: length %d, %d bytes left", off, l, len(b)-off)
		}
		out = append(out, attr{Type: t & nlaTypeMask, Data: b[off+4 : off+l]})
		off += align4(l)
	}
	return out, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

func (a attr) u8() (uint8, error) {
	if len(a.Data) < 1 {
		return 0, fmt.Errorf("attribute %d: empty, want a u8", a.Type)
	}
	return a.Data[0], nil
}

func (a attr) be16() (uint16, error) {
	if len(a.Data) < 2 {
		return 0, fmt.Errorf("attribute %d: %d bytes, want a u16", a.Type, len(a.Data))
	}
	return binary.BigEndian.Uint16(a.Data), nil
}

func (a attr) be32() (uint32, error) {
	if len(a.Data) < 4 {
		return 0, fmt.Errorf("attribute %d: %d bytes, want a u32", a.Type, len(a.Data))
	}
	return binary.BigEndian.Uint32(a.Data), nil
}

func (a attr) be64() (uint64, error) {
	if len(a.Data) < 8 {
		return 0, fmt.Errorf("attribute %d: %d bytes, want a u64", a.Type, len(a.Data))
	}
	return binary.BigEndian.Uint64(a.Data), nil
}

// str reads a NUL-terminated string, tolerating a missing terminator.
func (a attr) str() string {
	for i, c := range a.Data {
		if c == 0 {
			return string(a.Data[:i])
		}
	}
	return string(a.Data)
}

// encoder builds attributes into one buffer; nested ones are closed by end.
type encoder struct{ b []byte }

func (e *encoder) put(t uint16, v []byte) {
	l := 4 + len(v)
	e.b = binary.LittleEndian.AppendUint16(e.b, uint16(l))
	e.b = binary.LittleEndian.AppendUint16(e.b, t)
	e.b = append(e.b, v...)
	for len(e.b)%4 != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) str(t uint16, s string)  { e.put(t, append([]byte(s), 0)) }
func (e *encoder) be32(t uint16, v uint32) { e.put(t, binary.BigEndian.AppendUint32(nil, v)) }

// nest opens a nested attribute; the returned function closes it.
func (e *encoder) nest(t uint16) (end func()) {
	start := len(e.b)
	e.put(t|nlaNested, nil)
	return func() { binary.LittleEndian.PutUint16(e.b[start:], uint16(len(e.b)-start)) }
}

// message is one netlink message with an nfgenmsg header.
type message struct {
	Type   uint16
	Flags  uint16
	Seq    uint32
	Family uint8
	ResID  uint16 // big-endian on the wire
	Attrs  []byte
}

func (m message) marshal(b []byte) []byte {
	l := nlmsgHdrLen + nfgenLen + len(m.Attrs)
	b = binary.LittleEndian.AppendUint32(b, uint32(l))
	b = binary.LittleEndian.AppendUint16(b, m.Type)
	b = binary.LittleEndian.AppendUint16(b, m.Flags)
	b = binary.LittleEndian.AppendUint32(b, m.Seq)
	b = binary.LittleEndian.AppendUint32(b, 0) // port id: the kernel fills it in
	b = append(b, m.Family, 0)
	b = binary.BigEndian.AppendUint16(b, m.ResID)
	b = append(b, m.Attrs...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// rawMessage is one received netlink message: its header fields and its
// payload (after the 16-byte header; aliasing the receive buffer).
type rawMessage struct {
	Type    uint16
	Flags   uint16
	Seq     uint32
	Payload []byte
}

// splitMessages splits a datagram into netlink messages.
func splitMessages(b []byte) ([]rawMessage, error) {
	var out []rawMessage
	for off := 0; off < len(b); {
		if len(b)-off < nlmsgHdrLen {
			return out, fmt.Errorf("netlink message at offset %d: %d bytes left, header needs %d", off, len(b)-off, nlmsgHdrLen)
		}
		l := int(binary.LittleEndian.Uint32(b[off:]))
		if l < nlmsgHdrLen || l > len(b)-off {
			return out, fmt.Errorf("netlink message at offset %d: length %d, %d bytes left", off, l, len(b)-off)
		}
		out = append(out, rawMessage{
			Type:    binary.LittleEndian.Uint16(b[off+4:]),
			Flags:   binary.LittleEndian.Uint16(b[off+6:]),
			Seq:     binary.LittleEndian.Uint32(b[off+8:]),
			Payload: b[off+nlmsgHdrLen : off+l],
		})
		off += align4(l)
	}
	return out, nil
}

// nfgen splits an nfnetlink payload into its family and attributes.
func nfgen(payload []byte) (family uint8, attrs []attr, err error) {
	if len(payload) < nfgenLen {
		return 0, nil, fmt.Errorf("nfnetlink message: %d bytes, header needs %d", len(payload), nfgenLen)
	}
	attrs, err = parseAttrs(payload[nfgenLen:])
	return payload[0], attrs, err
}
