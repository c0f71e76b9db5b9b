package capture

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// rxRing is one AF_PACKET socket with a TPACKET_V3 receive ring, read a
// block at a time.
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
	next   int // the block to read next
	poll   int // poll timeout, ms
}

var (
	errRingTimeout = errors.New("poll timeout")
	errRingPoll    = errors.New("socket error (POLLERR)")
)

func openRxRing(ifindex, blockSize, numBlocks, frameSize int, blockTimeout, pollTimeout time.Duration, filter []bpf.RawInstruction) (*rxRing, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	r := &rxRing{fd: fd, block: blockSize, blocks: numBlocks, poll: max(int(pollTimeout/time.Millisecond), 1)}
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

// nextBlock waits up to the poll timeout for the next block the kernel
// has handed to userland and returns it; release gives it back.
func (r *rxRing) nextBlock() (*blockHeader, []byte, error) {
	b := r.ring[r.next*r.block : (r.next+1)*r.block]
	hdr := (*blockHeader)(unsafe.Pointer(&b[0]))
	for atomic.LoadUint32(&hdr.h.Block_status)&unix.TP_STATUS_USER == 0 {
		fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN | unix.POLLERR}}
		n, err := unix.Poll(fds, r.poll)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("poll: %w", err)
		}
		if n == 0 {
			return nil, nil, errRingTimeout
		}
		if fds[0].Revents&unix.POLLERR != 0 {
			return nil, nil, errRingPoll
		}
	}
	return hdr, b, nil
}

// release hands the block nextBlock returned back to the kernel.
func (r *rxRing) release(hdr *blockHeader) {
	atomic.StoreUint32(&hdr.h.Block_status, unix.TP_STATUS_KERNEL)
	r.next = (r.next + 1) % r.blocks
}

// sllPkttype is where sockaddr_ll's sll_pkttype sits in a TPACKET_V3
// frame: the address follows the header, aligned to TPACKET_ALIGNMENT.
var sllPkttype = (int(unsafe.Sizeof(unix.Tpacket3Hdr{}))+unix.TPACKET_ALIGNMENT-1)&^(unix.TPACKET_ALIGNMENT-1) + 10

// eachFrame calls fn for every frame of a block: its bytes (as captured),
// length on the wire, timestamp, and whether the host sent it (the
// kernel's PACKET_OUTGOING, as tcpdump tells Out from In: a frame a bridge
// forwards out of a port is Out there, whatever its source MAC).
func eachFrame(hdr *blockHeader, b []byte, fn func(data []byte, wireLen int, ts time.Time, outgoing bool)) {
	off := int(hdr.h.Offset_to_first_pkt)
	for i := uint32(0); i < hdr.h.Num_pkts && off+sllPkttype < len(b); i++ {
		p := (*unix.Tpacket3Hdr)(unsafe.Pointer(&b[off]))
		start := off + int(p.Mac)
		end := start + int(p.Snaplen)
		if end <= len(b) {
			fn(b[start:end], int(p.Len), time.Unix(int64(p.Sec), int64(p.Nsec)), b[off+sllPkttype] == unix.PACKET_OUTGOING)
		}
		if p.Next_offset == 0 {
			break
		}
		off += int(p.Next_offset)
	}
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
