package capture

import "fmt"

// CustomBlock is a pcapng Custom Block: bytes a tool identified by its
// Private Enterprise Number (PEN) keeps in the file. Readers that do not
// know the PEN skip the block (Wireshark, tshark and libpcap do). Data is
// as stored, padded with zero bytes to a multiple of 4: the format does
// not record its length, so the owner of the PEN tells padding from data.
// A block the Reader had no room for has Data nil and its size in Size.
type CustomBlock struct {
	PEN  uint32
	Data []byte
	Size int
}

// Custom Block types: one a pcapng editor may copy into a file it writes,
// and one it must not.
const (
	ngCustom       = 0x00000BAD
	ngCustomNoCopy = 0x40000BAD
)

// MaxCustom is the most a Custom Block can carry, and the most the Reader
// keeps of all of a file's Custom Blocks together.
const MaxCustom = maxBlock - 16

// maxCustomBlocks bounds the Custom Blocks a Reader lists, kept or not: a
// hostile file may hold millions of small ones.
const maxCustomBlocks = 16

// WriteCustom appends a Custom Block that pcapng editors may copy, holding
// data under pen.
func (nw *NgWriter) WriteCustom(pen uint32, data []byte) error {
	if len(data) > MaxCustom {
		return fmt.Errorf("write custom block: %d bytes, more than the %d a block holds", len(data), MaxCustom)
	}
	b := make([]byte, 0, 4+len(data)+3)
	b = le.AppendUint32(b, pen)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return nw.block(ngCustom, b)
}

// Custom returns the Custom Blocks read so far (at most 16), in order; past
// MaxCustom bytes in all, a block is listed without its data.
func (r *Reader) Custom() []CustomBlock { return r.custom }

// addCustom keeps a copy of a Custom Block's body, within the bounds. One
// too short to hold a PEN costs itself, not the file: the packets are
// still there.
func (r *Reader) addCustom(body []byte) {
	if len(body) < 4 || len(r.custom) >= maxCustomBlocks {
		return
	}
	c := CustomBlock{PEN: r.order.Uint32(body), Size: len(body) - 4}
	if r.customBytes+c.Size <= MaxCustom {
		c.Data = append([]byte(nil), body[4:]...)
		r.customBytes += c.Size
	}
	r.custom = append(r.custom, c)
}
