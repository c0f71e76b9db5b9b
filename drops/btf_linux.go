package drops

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// layout is where the program finds what it reads, in this kernel.
type layout struct {
	skbDev, skbSk, skbHead, skbData, skbLen, skbTail uint32
	skbNetHdr, skbMacHdr, skbProto                   uint32
	tailSize                                         uint32 // sk_buff_data_t: 4 (an offset) or 8 (a pointer)
	devNet, devName, devIfindex                      uint32
	skcNet                                           uint32 // sock_common.skc_net, at the start of struct sock
	netInum                                          uint32 // net.ns.inum
	nargs                                            int    // kfree_skb's arguments: skb, location, reason[, rx_sk]
	consumed                                         uint32 // SKB_CONSUMED, which is no drop
	reasons                                          map[uint32]string
}

// kernelSpec is the running kernel's BTF; tests replace it.
var kernelSpec = btf.LoadKernelSpec

// loadLayout reads the kernel's BTF: the tracepoint's arguments, the drop
// reasons and the offsets of every field the program reads.
func loadLayout() (*layout, error) {
	spec, err := kernelSpec()
	if err != nil {
		return nil, fmt.Errorf("%w: the kernel has no BTF (/sys/kernel/btf/vmlinux): %v", ErrUnavailable, err)
	}
	l := &layout{}
	if err := l.tracepoint(spec); err != nil {
		return nil, err
	}
	var errs []error
	field := func(typ, path string) uint32 {
		off, size, err := fieldOf(spec, typ, path)
		if err != nil {
			errs = append(errs, err)
		}
		if path == "tail" {
			l.tailSize = size
		}
		return off
	}
	l.skbDev = field("sk_buff", "dev")
	l.skbSk = field("sk_buff", "sk")
	l.skbHead = field("sk_buff", "head")
	l.skbData = field("sk_buff", "data")
	l.skbLen = field("sk_buff", "len")
	l.skbTail = field("sk_buff", "tail")
	l.skbNetHdr = field("sk_buff", "network_header")
	l.skbMacHdr = field("sk_buff", "mac_header")
	l.skbProto = field("sk_buff", "protocol")
	l.devNet = field("net_device", "nd_net.net")
	l.devName = field("net_device", "name")
	l.devIfindex = field("net_device", "ifindex")
	l.skcNet = field("sock", "__sk_common.skc_net.net")
	l.netInum = field("net", "ns.inum")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if l.tailSize != 4 && l.tailSize != 8 {
		return nil, fmt.Errorf("%w: sk_buff.tail has size %d", ErrUnavailable, l.tailSize)
	}
	return l, nil
}

// tracepoint checks kfree_skb's arguments (the reason came in Linux 5.17)
// and names the reasons from enum skb_drop_reason.
func (l *layout) tracepoint(spec *btf.Spec) error {
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_kfree_skb", &td); err != nil {
		return fmt.Errorf("%w: the kernel has no skb:kfree_skb tracepoint: %v", ErrUnavailable, err)
	}
	ptr, ok := td.Type.(*btf.Pointer)
	var proto *btf.FuncProto
	if ok {
		proto, ok = ptr.Target.(*btf.FuncProto)
	}
	// The first parameter is the tracepoint's own context.
	if !ok || len(proto.Params) < 4 {
		return fmt.Errorf("%w: skb:kfree_skb carries no drop reason in this kernel (Linux 5.17 or later has it)", ErrUnavailable)
	}
	enum, ok := btf.UnderlyingType(proto.Params[3].Type).(*btf.Enum)
	if !ok || enum.Name != "skb_drop_reason" {
		return fmt.Errorf("%w: skb:kfree_skb's third argument is not enum skb_drop_reason", ErrUnavailable)
	}
	l.nargs = len(proto.Params) - 1
	l.reasons = make(map[uint32]string, len(enum.Values))
	l.consumed = ^uint32(0)
	for _, v := range enum.Values {
		name := strings.TrimPrefix(v.Name, "SKB_DROP_REASON_")
		l.reasons[uint32(v.Value)] = name
		if v.Name == "SKB_CONSUMED" {
			l.consumed = uint32(v.Value)
		}
	}
	return nil
}

// reason names a reason value; a subsystem's reasons (the high 16 bits
// set) have names in enums of their own and are shown as numbers.
func (l *layout) reason(v uint32) string {
	if n, ok := l.reasons[v]; ok {
		return n
	}
	if v>>16 != 0 {
		return fmt.Sprintf("SUBSYS_%d_REASON_%d", v>>16, v&0xffff)
	}
	return fmt.Sprintf("REASON_%d", v)
}

// fieldOf finds a dotted member path in a struct, looking through
// anonymous unions and structs as C does, and gives its byte offset and
// size.
func fieldOf(spec *btf.Spec, typ, path string) (off, size uint32, err error) {
	var st *btf.Struct
	if err := spec.TypeByName(typ, &st); err != nil {
		return 0, 0, fmt.Errorf("struct %s: %v", typ, err)
	}
	var t btf.Type = st
	var bits uint32
	for _, name := range strings.Split(path, ".") {
		m, o, ok := member(t, name)
		if !ok {
			return 0, 0, fmt.Errorf("%s has no member %s", typ, path)
		}
		if m.BitfieldSize != 0 {
			return 0, 0, fmt.Errorf("%s.%s is a bitfield", typ, path)
		}
		bits += o
		t = btf.UnderlyingType(m.Type)
	}
	if bits%8 != 0 {
		return 0, 0, fmt.Errorf("%s.%s is not byte-aligned", typ, path)
	}
	sz, err := btf.Sizeof(t)
	if err != nil {
		return 0, 0, fmt.Errorf("%s.%s: %v", typ, path, err)
	}
	return bits / 8, uint32(sz), nil
}

// member finds name in a struct or union, descending into anonymous
// members; the offset is in bits from the start of t.
func member(t btf.Type, name string) (btf.Member, uint32, bool) {
	var members []btf.Member
	switch c := btf.UnderlyingType(t).(type) {
	case *btf.Struct:
		members = c.Members
	case *btf.Union:
		members = c.Members
	default:
		return btf.Member{}, 0, false
	}
	for _, m := range members {
		if m.Name == name {
			return m, uint32(m.Offset), true
		}
	}
	for _, m := range members {
		if m.Name != "" {
			continue
		}
		if inner, off, ok := member(m.Type, name); ok {
			return inner, uint32(m.Offset) + off, true
		}
	}
	return btf.Member{}, 0, false
}
