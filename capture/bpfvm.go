package capture

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
)

// runBPF interprets a classic BPF program as libpcap's bpf_filter does:
// data is what was captured, wireLen the length on the wire (what "len"
// loads); a load past the captured bytes, a division by zero, or a jump out
// of the program rejects the frame. Jumps only go forward, so it ends.
func runBPF(prog []bpf.RawInstruction, data []byte, wireLen uint32) uint32 {
	var a, x uint32
	var mem [16]uint32
	n := uint32(len(data))
	load := func(off uint32, size uint32) (uint32, bool) {
		if off > n || size > n-off {
			return 0, false
		}
		switch size {
		case 4:
			return binary.BigEndian.Uint32(data[off:]), true
		case 2:
			return uint32(binary.BigEndian.Uint16(data[off:])), true
		}
		return uint32(data[off]), true
	}
	sizes := [4]uint32{4, 2, 1, 0}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		k := in.K
		switch in.Op & 0x07 {
		case 0x00, 0x01: // BPF_LD, BPF_LDX
			var v uint32
			ok := true
			size := sizes[(in.Op>>3)&3]
			switch in.Op & 0xe0 {
			case 0x00: // BPF_IMM
				v = k
			case 0x20: // BPF_ABS
				v, ok = load(k, size)
				ok = ok && size != 0
			case 0x40: // BPF_IND
				v, ok = load(x+k, size)
				ok = ok && size != 0 && x+k >= x
			case 0x60: // BPF_MEM
				if k >= 16 {
					return 0
				}
				v = mem[k]
			case 0x80: // BPF_LEN
				v = wireLen
			case 0xa0: // BPF_MSH
				var b uint32
				b, ok = load(k, 1)
				v = (b & 0xf) << 2
			default:
				return 0
			}
			if !ok {
				return 0
			}
			if in.Op&0x07 == 0x00 {
				a = v
			} else {
				x = v
			}
		case 0x02, 0x03: // BPF_ST, BPF_STX
			if k >= 16 {
				return 0
			}
			if in.Op&0x07 == 0x02 {
				mem[k] = a
			} else {
				mem[k] = x
			}
		case 0x04: // BPF_ALU
			v := k
			if in.Op&0x08 != 0 {
				v = x
			}
			switch in.Op & 0xf0 {
			case 0x00:
				a += v
			case 0x10:
				a -= v
			case 0x20:
				a *= v
			case 0x30:
				if v == 0 {
					return 0
				}
				a /= v
			case 0x40:
				a |= v
			case 0x50:
				a &= v
			case 0x60:
				a = shift(a, v, true)
			case 0x70:
				a = shift(a, v, false)
			case 0x80:
				a = -a
			case 0x90:
				if v == 0 {
					return 0
				}
				a %= v
			case 0xa0:
				a ^= v
			default:
				return 0
			}
		case 0x05: // BPF_JMP
			if in.Op&0xf0 == 0x00 { // BPF_JA
				pc += int(k)
				continue
			}
			v := k
			if in.Op&0x08 != 0 {
				v = x
			}
			var cond bool
			switch in.Op & 0xf0 {
			case 0x10:
				cond = a == v
			case 0x20:
				cond = a > v
			case 0x30:
				cond = a >= v
			case 0x40:
				cond = a&v != 0
			default:
				return 0
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case 0x06: // BPF_RET
			if in.Op&0x18 == 0x10 { // BPF_A
				return a
			}
			return k
		case 0x07: // BPF_MISC
			if in.Op&0xf8 == 0x00 {
				x = a
			} else {
				a = x
			}
		}
	}
	return 0
}

// shift follows libpcap's bpf_filter: a shift by 32 or more gives 0
// (the kernel masks the count instead; only a shift by a packet-dependent
// amount can tell them apart, as a constant one is refused).
func shift(a, v uint32, left bool) uint32 {
	if v >= 32 {
		return 0
	}
	if left {
		return a << v
	}
	return a >> v
}
