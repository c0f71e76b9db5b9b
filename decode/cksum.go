package decode

import "encoding/binary"

// tcpChecksum returns the checksum field of the TCP segment in net (an IP
// packet from its header on) and the value it should hold, when the whole
// unfragmented segment was captured: what tcpdump -v checks.
func tcpChecksum(p *Packet, net []byte) (field, want uint16, ok bool) {
	if p.Frag || p.IPHdrLen <= 0 || p.IPLen > len(net) || p.IPLen < p.IPHdrLen+20 || p.Tunnel.Kind != TunnelNone {
		return 0, 0, false
	}
	seg := net[p.IPHdrLen:p.IPLen]
	var sum uint32
	switch net[0] >> 4 {
	case 4:
		sum = sum16(sum, net[12:20])
	case 6:
		sum = sum16(sum, net[8:40])
	default:
		return 0, 0, false
	}
	sum += uint32(len(seg)) + 6
	field = binary.BigEndian.Uint16(seg[16:])
	sum = sum16(sum, seg[:16])
	sum = sum16(sum, seg[18:])
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return field, ^uint16(sum), true
}

// sum16 adds b to a ones' complement sum as 16-bit big-endian words.
func sum16(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// appendTCPChecksum writes tcpdump -v's ", cksum 0x1234 (correct)" or
// "(incorrect -> 0x5678)".
func appendTCPChecksum(b []byte, field, want uint16) []byte {
	b = append(b, ", cksum 0x"...)
	b = appendHexDigits(b, uint64(field), 4)
	if field == want {
		return append(b, " (correct)"...)
	}
	b = append(b, " (incorrect -> 0x"...)
	b = appendHexDigits(b, uint64(want), 4)
	return append(b, ')')
}
