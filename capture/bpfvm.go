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
	vm := bpfVM{data: data, wireLen: wireLen}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		ok := true
		switch in.Op & 0x07 {
		case 0x00, 0x01: // BPF_LD, BPF_LDX
			ok = vm.ld(in)
		case 0x02, 0x03: // BPF_ST, BPF_STX
			ok = vm.st(in)
		case 0x04: // BPF_ALU
			vm.a, ok = alu(vm.a, vm.operand(in), in.Op&0xf0)
		case 0x05: // BPF_JMP
			var skip int
			skip, ok = vm.jump(in)
			pc += skip
		case 0x06: // BPF_RET
			if in.Op&0x18 == 0x10 { // BPF_A
				return vm.a
			}
			return in.K
		case 0x07: // BPF_MISC
			if in.Op&0xf8 == 0x00 {
				vm.x = vm.a
			} else {
				vm.a = vm.x
			}
		}
		if !ok {
			return 0
		}
	}
	return 0
}

// bpfVM is the machine runBPF runs a program on: its registers, scratch
// memory and the packet.
type bpfVM struct {
	a, x    uint32
	mem     [16]uint32
	data    []byte
	wireLen uint32
}

// bpfSizes are the load sizes of BPF_W, BPF_H, BPF_B (and an invalid 0).
var bpfSizes = [4]uint32{4, 2, 1, 0}

// load reads size bytes of the packet at off, big-endian; false past the
// captured bytes.
func (vm *bpfVM) load(off, size uint32) (uint32, bool) {
	n := uint32(len(vm.data))
	if off > n || size > n-off {
		return 0, false
	}
	switch size {
	case 4:
		return binary.BigEndian.Uint32(vm.data[off:]), true
	case 2:
		return uint32(binary.BigEndian.Uint16(vm.data[off:])), true
	}
	return uint32(vm.data[off]), true
}

// ld runs BPF_LD (into A) or BPF_LDX (into X); false rejects the frame.
func (vm *bpfVM) ld(in bpf.RawInstruction) bool {
	k := in.K
	var v uint32
	ok := true
	size := bpfSizes[(in.Op>>3)&3]
	switch in.Op & 0xe0 {
	case 0x00: // BPF_IMM
		v = k
	case 0x20: // BPF_ABS
		v, ok = vm.load(k, size)
		ok = ok && size != 0
	case 0x40: // BPF_IND
		v, ok = vm.load(vm.x+k, size)
		ok = ok && size != 0 && vm.x+k >= vm.x
	case 0x60: // BPF_MEM
		if k >= 16 {
			return false
		}
		v = vm.mem[k]
	case 0x80: // BPF_LEN
		v = vm.wireLen
	case 0xa0: // BPF_MSH
		var b uint32
		b, ok = vm.load(k, 1)
		v = (b & 0xf) << 2
	default:
		return false
	}
	if !ok {
		return false
	}
	if in.Op&0x07 == 0x00 {
		vm.a = v
	} else {
		vm.x = v
	}
	return true
}

// st runs BPF_ST (A) or BPF_STX (X) into scratch memory.
func (vm *bpfVM) st(in bpf.RawInstruction) bool {
	if in.K >= 16 {
		return false
	}
	if in.Op&0x07 == 0x02 {
		vm.mem[in.K] = vm.a
	} else {
		vm.mem[in.K] = vm.x
	}
	return true
}

// operand is an ALU or jump instruction's operand: X (BPF_X) or K.
func (vm *bpfVM) operand(in bpf.RawInstruction) uint32 {
	if in.Op&0x08 != 0 {
		return vm.x
	}
	return in.K
}

// alu applies BPF_ALU operation op to a and v; false (division by zero,
// an unknown operation) rejects the frame.
func alu(a, v uint32, op uint16) (uint32, bool) {
	switch op {
	case 0x00:
		return a + v, true
	case 0x10:
		return a - v, true
	case 0x20:
		return a * v, true
	case 0x30:
		if v == 0 {
			return 0, false
		}
		return a / v, true
	case 0x40:
		return a | v, true
	case 0x50:
		return a & v, true
	case 0x60:
		return shift(a, v, true), true
	case 0x70:
		return shift(a, v, false), true
	case 0x80:
		return -a, true
	case 0x90:
		if v == 0 {
			return 0, false
		}
		return a % v, true
	case 0xa0:
		return a ^ v, true
	}
	return 0, false
}

// jump is how many instructions a BPF_JMP skips; false (an unknown
// condition) rejects the frame.
func (vm *bpfVM) jump(in bpf.RawInstruction) (int, bool) {
	if in.Op&0xf0 == 0x00 { // BPF_JA
		return int(in.K), true
	}
	v := vm.operand(in)
	var cond bool
	switch in.Op & 0xf0 {
	case 0x10:
		cond = vm.a == v
	case 0x20:
		cond = vm.a > v
	case 0x30:
		cond = vm.a >= v
	case 0x40:
		cond = vm.a&v != 0
	default:
		return 0, false
	}
	if cond {
		return int(in.Jt), true
	}
	return int(in.Jf), true
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
