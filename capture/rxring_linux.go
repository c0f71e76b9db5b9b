package capture

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// rxRing is one AF_PACKET socket with a TPACKET_V3 receive ring, read a
// block at a time and in place: a block the kernel hands over stays ours,
// its frames read straight from the mapping, until every frame in it has
// been handed on; then it goes back (release).
//
// It is set up in the order that costs the kernel least: the socket is
// made with protocol 0 (no packet hook yet), gets its ring and its filter,
// and only then is bound to ETH_P_ALL on the interface's index. A socket
// made for ETH_P_ALL and bound afterwards (gopacket's afpacket) registers
// its hook three times, each time waiting for an RCU grace period, and
// looks the interface up by name with a dump of every link of the
// namespace: with a hundred namespaces on a hub, most of the start-up.
// Bound last, no frame reaches the ring before the filter is attached.
type rxRing struct {
	fd     int
	ring   []byte
	block  int // bytes per block
	blocks int
	next   int     // the block the kernel hands over next
	held   []int32 // per block: frames not yet handed on; > 0 while the block is ours
	taken  int     // blocks taken and not yet released
}

func openRxRing(ifindex, blockSize, numBlocks, frameSize int, blockTimeout time.Duration, filter []bpf.RawInstruction) (*rxRing, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	r := &rxRing{fd: fd, block: blockSize, blocks: numBlocks, held: make([]int32, numBlocks)}
	if err := r.setUp(ifindex, frameSize, blockTimeout, filter); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *rxRing) setUp(ifindex, frameSize int, blockTimeout time.Duration, filter []bpf.RawInstruction) error {
	if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("setsockopt PACKET_VERSION: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(r.block),
		Block_nr:       uint32(r.blocks),
		Frame_size:     uint32(frameSize),
		Frame_nr:       uint32(r.block / frameSize * r.blocks),
		Retire_blk_tov: uint32(blockTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(r.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("setsockopt PACKET_RX_RING: %w", err)
	}
	var err error
	r.ring, err = unix.Mmap(r.fd, 0, r.block*r.blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap the ring: %w", err)
	}
	if len(filter) > 0 {
		prog := make([]unix.SockFilter, len(filter))
		for i, in := range filter {
			prog[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
		}
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		if err := unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			return fmt.Errorf("attach filter: %w", err)
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(r.fd, sa); err != nil {
		return fmt.Errorf("bind to interface index %d: %w", ifindex, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// blockHeader is the start of a block: tpacket_block_desc with its
// tpacket_hdr_v1.
type blockHeader struct {
	version, offsetToPriv uint32
	h                     unix.TpacketHdrV1
}

func (r *rxRing) header(i int) *blockHeader {
	return (*blockHeader)(unsafe.Pointer(&r.ring[i*r.block]))
}

// take returns the next block the kernel has handed to userland, if there
// is one; it stays ours until release. It never waits.
func (r *rxRing) take() (int, bool) {
	i := r.next
	if r.held[i] > 0 || atomic.LoadUint32(&r.header(i).h.Block_status)&unix.TP_STATUS_USER == 0 {
		return 0, false // the ring wrapped onto a block still ours, or none ready
	}
	r.next = (i + 1) % r.blocks
	r.taken++
	return i, true
}

// ready tells whether the kernel has handed over a block take has not
// taken yet.
func (r *rxRing) ready() bool {
	return r.held[r.next] == 0 && atomic.LoadUint32(&r.header(r.next).h.Block_status)&unix.TP_STATUS_USER != 0
}

// idle tells whether the kernel holds nothing for userland: the block it
// fills next has no frame yet. Any frame still to come is stamped after
// now, give or take the moment between its timestamp and its place in the
// ring. (A block stays the kernel's until it is full or its timeout
// passes: a busy socket's frames wait there, and its idle is false.)
func (r *rxRing) idle() bool {
	h := &r.header(r.next).h
	return r.held[r.next] == 0 && atomic.LoadUint32(&h.Block_status)&unix.TP_STATUS_USER == 0 && atomic.LoadUint32(&h.Num_pkts) == 0
}

// release hands block i back to the kernel. Its frame count is cleared
// first: until the kernel opens the block again (it does so at once unless
// the ring was full) idle reads it.
func (r *rxRing) release(i int) {
	h := &r.header(i).h
	atomic.StoreUint32(&h.Num_pkts, 0)
	atomic.StoreUint32(&h.Block_status, unix.TP_STATUS_KERNEL)
	r.taken--
}

// sllPkttype is where sockaddr_ll's sll_pkttype sits in a TPACKET_V3
// frame: the address follows the header, aligned to TPACKET_ALIGNMENT.
var sllPkttype = (int(unsafe.Sizeof(unix.Tpacket3Hdr{}))+unix.TPACKET_ALIGNMENT-1)&^(unix.TPACKET_ALIGNMENT-1) + 10

// eachFrame calls fn with the offset (within the ring) and timestamp of
// every frame of block i that lies whole inside it.
func (r *rxRing) eachFrame(i int, fn func(off int, ts int64)) {
	b := r.ring[i*r.block : (i+1)*r.block]
	hdr := r.header(i)
	off := int(hdr.h.Offset_to_first_pkt)
	for n := uint32(0); n < hdr.h.Num_pkts && off+sllPkttype < len(b); n++ {
		p := (*unix.Tpacket3Hdr)(unsafe.Pointer(&b[off]))
		if end := off + int(p.Mac) + int(p.Snaplen); end <= len(b) {
			fn(i*r.block+off, int64(p.Sec)*1e9+int64(p.Nsec))
		}
		if p.Next_offset == 0 {
			break
		}
		off += int(p.Next_offset)
	}
}

// frame reads the frame at off (as eachFrame gave it): its bytes (as
// captured), length on the wire, and whether the host sent it (the
// kernel's PACKET_OUTGOING, as tcpdump tells Out from In: a frame a bridge
// forwards out of a port is Out there, whatever its source MAC). The bytes
// are the ring's: valid until the block is released.
func (r *rxRing) frame(off int) (data []byte, wireLen int, outgoing bool) {
	p := (*unix.Tpacket3Hdr)(unsafe.Pointer(&r.ring[off]))
	start := off + int(p.Mac)
	return r.ring[start : start+int(p.Snaplen) : start+int(p.Snaplen)], int(p.Len), r.ring[off+sllPkttype] == unix.PACKET_OUTGOING
}

// stats reads the kernel's counters: frames that passed the filter
// (drops included) and frames dropped for want of room in the ring.
func (r *rxRing) stats() (received, dropped int, err error) {
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, err
	}
	return int(st.Packets), int(st.Drops), nil
}

// clearError reads and so clears the socket's pending error (the kernel
// sets ENETDOWN when the interface goes down), which poll would otherwise
// report again at once.
func (r *rxRing) clearError() {
	unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR)
}

func (r *rxRing) close() {
	if r.ring != nil {
		unix.Munmap(r.ring)
		r.ring = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}
