package decode

import "net/netip"

// tcpSeqs holds, per TCP connection, the sequence numbers tcpdump
// subtracts to print them relative (its tcp_seq_hash): a connection is
// keyed with its lower port first (the lower address when the ports are
// equal), and its bases are taken from the first segment with ACK set, or
// again from any SYN with ACK.
type tcpSeqs map[tcpConv]tcpBase

type tcpConv struct {
	a, b  netip.Addr
	ports uint32
}

type tcpBase struct{ seq, ack uint32 }

// relative returns p's sequence and acknowledgement numbers as tcpdump
// prints them: as sent in a segment without ACK, in the segment that
// starts a connection's numbering, and when s is nil (tcpdump -S).
func (s tcpSeqs) relative(p *Packet) (seq, ack uint32) {
	seq, ack = p.TCPSeq, p.TCPAck
	if s == nil || p.Flags&ACK == 0 {
		return seq, ack
	}
	rev := p.SrcPort > p.DstPort || p.SrcPort == p.DstPort && p.Src.Compare(p.Dst) > 0
	key := tcpConv{p.Src, p.Dst, uint32(p.SrcPort)<<16 | uint32(p.DstPort)}
	if rev {
		key = tcpConv{p.Dst, p.Src, uint32(p.DstPort)<<16 | uint32(p.SrcPort)}
	}
	base, known := s[key]
	if !known || p.Flags&SYN != 0 {
		if rev {
			s[key] = tcpBase{seq: ack - 1, ack: seq}
		} else {
			s[key] = tcpBase{seq: seq, ack: ack - 1}
		}
		return seq, ack
	}
	if rev {
		return seq - base.ack, ack - base.seq
	}
	return seq - base.seq, ack - base.ack
}
