package drops

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// The event the program writes into the ring buffer, little-endian as the
// host: offsets of its fields.
const (
	evTime     = 0  // u64 bpf_ktime_get_ns
	evLocation = 8  // u64 the dropping function's return address
	evReason   = 16 // u32 enum skb_drop_reason
	evNetns    = 20 // u32 namespace inode
	evHead     = 24 // u64 skb->head
	evData     = 32 // u64 skb->data
	evLen      = 40 // u32 skb->len
	evNetHdr   = 44 // u16 skb->network_header
	evProto    = 46 // u16 skb->protocol (big-endian)
	evTail     = 48 // u64 skb->tail (an offset on 64-bit kernels)
	evName     = 56 // [16]byte dev->name
	evIfindex  = 72 // u32 dev->ifindex
	evCopied   = 76 // s32 bpf_probe_read_kernel's result for the packet bytes
	evMacHdr   = 80 // u16 skb->mac_header (~0 when unset)
	evLink     = 88 // the 14 bytes before the network header, when it is that far into the buffer
	evPacket   = 102
)

// linkBytes is how much the program copies from before the network
// header: an Ethernet header's length, where skb->mac_header points on a
// received frame.
const linkBytes = evPacket - evLink

// Stack slots of the program.
const (
	stDev  = -8  // the skb's device
	stTmp  = -16 // a pointer read on the way
	stNet  = -24 // struct net *
	stInum = -32 // the map key: the namespace inode (u32 in a zeroed u64)
)

// program assembles the tracepoint handler for this kernel's layout. ctx
// is the raw tracepoint's argument array: skb, location, reason[, rx_sk].
func program(l *layout, watched, events, lost *ebpf.Map, snap, wakeAt int) asm.Instructions {
	const (
		ctx = asm.R6
		skb = asm.R7
		ev  = asm.R8
	)
	// read copies size bytes from src+off (src a register) to dst+dstOff.
	read := func(dst asm.Register, dstOff int16, size int32, src asm.Register, off uint32) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, dst),
			asm.Add.Imm(asm.R1, int32(dstOff)),
			asm.Mov.Imm(asm.R2, size),
			asm.Mov.Reg(asm.R3, src),
			asm.Add.Imm(asm.R3, int32(off)),
			asm.FnProbeReadKernel.Call(),
		}
	}
	var p asm.Instructions
	add := func(is ...asm.Instruction) { p = append(p, is...) }
	addAll := func(is asm.Instructions) { p = append(p, is...) }

	add(
		asm.Mov.Reg(ctx, asm.R1),
		asm.LoadMem(asm.R2, ctx, 16, asm.DWord),
		asm.JEq.Imm(asm.R2, int32(l.consumed), "exit"),
		asm.LoadMem(skb, ctx, 0, asm.DWord),
		asm.StoreImm(asm.RFP, stDev, 0, asm.Word), asm.StoreImm(asm.RFP, stDev+4, 0, asm.Word),
		asm.StoreImm(asm.RFP, stNet, 0, asm.Word), asm.StoreImm(asm.RFP, stNet+4, 0, asm.Word),
		asm.StoreImm(asm.RFP, stInum, 0, asm.Word), asm.StoreImm(asm.RFP, stInum+4, 0, asm.Word),
	)
	// The namespace: the device's, else the socket's, else rx_sk's.
	addAll(read(asm.RFP, stDev, 8, skb, l.skbDev))
	add(
		asm.LoadMem(asm.R3, asm.RFP, stDev, asm.DWord),
		asm.JEq.Imm(asm.R3, 0, "sock"),
	)
	addAll(read(asm.RFP, stNet, 8, asm.R3, l.devNet))
	add(asm.Ja.Label("net"))
	p = append(p, read(asm.RFP, stTmp, 8, skb, l.skbSk)...)
	p[len(p)-6] = p[len(p)-6].WithSymbol("sock")
	add(asm.LoadMem(asm.R3, asm.RFP, stTmp, asm.DWord))
	if l.nargs >= 4 {
		add(
			asm.JNE.Imm(asm.R3, 0, "sknet"),
			asm.LoadMem(asm.R3, ctx, 24, asm.DWord),
		)
	}
	add(asm.JEq.Imm(asm.R3, 0, "exit"))
	p = append(p, read(asm.RFP, stNet, 8, asm.R3, l.skcNet)...)
	p[len(p)-6] = p[len(p)-6].WithSymbol("sknet")

	add(asm.LoadMem(asm.R3, asm.RFP, stNet, asm.DWord).WithSymbol("net"),
		asm.JEq.Imm(asm.R3, 0, "exit"))
	addAll(read(asm.RFP, stInum, 4, asm.R3, l.netInum))
	add(
		asm.LoadMapPtr(asm.R1, watched.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stInum),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),

		asm.LoadMapPtr(asm.R1, events.FD()),
		asm.Mov.Imm(asm.R2, int32(evPacket+snap)),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JEq.Imm(asm.R0, 0, "full"),
		asm.Mov.Reg(ev, asm.R0),

		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(ev, evTime, asm.R0, asm.DWord),
		asm.LoadMem(asm.R1, ctx, 8, asm.DWord),
		asm.StoreMem(ev, evLocation, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, ctx, 16, asm.DWord),
		asm.StoreMem(ev, evReason, asm.R1, asm.Word),
		asm.LoadMem(asm.R1, asm.RFP, stInum, asm.Word),
		asm.StoreMem(ev, evNetns, asm.R1, asm.Word),
		asm.StoreImm(ev, evTail, 0, asm.Word), asm.StoreImm(ev, evTail+4, 0, asm.Word),
		asm.StoreImm(ev, evName, 0, asm.Word), asm.StoreImm(ev, evName+4, 0, asm.Word),
		asm.StoreImm(ev, evName+8, 0, asm.Word), asm.StoreImm(ev, evName+8+4, 0, asm.Word),
		asm.StoreImm(ev, evIfindex, 0, asm.Word),
	)
	addAll(read(ev, evHead, 8, skb, l.skbHead))
	addAll(read(ev, evData, 8, skb, l.skbData))
	addAll(read(ev, evLen, 4, skb, l.skbLen))
	addAll(read(ev, evNetHdr, 2, skb, l.skbNetHdr))
	addAll(read(ev, evMacHdr, 2, skb, l.skbMacHdr))
	addAll(read(ev, evProto, 2, skb, l.skbProto))
	addAll(read(ev, evTail, int32(l.tailSize), skb, l.skbTail))
	add(
		asm.LoadMem(asm.R9, asm.RFP, stDev, asm.DWord),
		asm.JEq.Imm(asm.R9, 0, "packet"),
	)
	addAll(read(ev, evName, 16, asm.R9, l.devName))
	addAll(read(ev, evIfindex, 4, asm.R9, l.devIfindex))
	// The packet from its network header: skb->head + skb->network_header,
	// and the 14 bytes before it when the buffer has them (the Ethernet
	// header of a received frame; decode checks skb->mac_header points
	// there before it believes them).
	add(
		asm.LoadMem(asm.R3, ev, evHead, asm.DWord).WithSymbol("packet"),
		asm.LoadMem(asm.R4, ev, evNetHdr, asm.Half),
		asm.Add.Reg(asm.R3, asm.R4),
		asm.Mov.Reg(asm.R1, ev),
		asm.Add.Imm(asm.R1, evPacket),
		asm.Mov.Imm(asm.R2, int32(snap)),
		asm.JLT.Imm(asm.R4, linkBytes, "copy"),
		asm.Add.Imm(asm.R3, -linkBytes),
		asm.Add.Imm(asm.R1, -linkBytes),
		asm.Mov.Imm(asm.R2, int32(snap+linkBytes)),
		asm.FnProbeReadKernel.Call().WithSymbol("copy"),
		asm.StoreMem(ev, evCopied, asm.R0, asm.Word),
		// Wake the reader only once the ring fills up (it polls every few
		// milliseconds otherwise): a flood of drops costs no wakeup each.
		asm.LoadMapPtr(asm.R1, events.FD()),
		asm.Mov.Imm(asm.R2, 0), // BPF_RB_AVAIL_DATA
		asm.FnRingbufQuery.Call(),
		asm.Mov.Imm(asm.R2, 1), // BPF_RB_NO_WAKEUP
		asm.JLT.Imm(asm.R0, int32(wakeAt), "submit"),
		asm.Mov.Imm(asm.R2, 2), // BPF_RB_FORCE_WAKEUP
		asm.Mov.Reg(asm.R1, ev).WithSymbol("submit"),
		asm.FnRingbufSubmit.Call(),
		asm.Ja.Label("exit"),

		// No room in the ring: count the event lost.
		asm.StoreImm(asm.RFP, stTmp, 0, asm.Word).WithSymbol("full"), asm.StoreImm(asm.RFP, stTmp+4, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, lost.FD()),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stTmp),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),

		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	)
	return p
}
