package decode

import (
	"encoding/binary"
	"strconv"

	"github.com/nsdump/nsdump/capture"
)

// Format selects what a packet line shows beyond the summary, as tcpdump's
// flags do: Link (-e) the link-layer header; Hex (-X; 2: -XX) and ASCII
// (-A; 2: -AA) the bytes after the line, from the network header on (2:
// from the link header); Verbose (-v) the IP header fields and TCP options.
type Format struct {
	Link       bool
	Hex, ASCII int
	Verbose    int
}

// AppendPacket appends p's line as f asks, from the frame's bytes data
// (caplen bytes, as captured), without the trailing newline. It keeps no
// state between packets: TCP sequence numbers are absolute, as tcpdump -S
// prints them; a Printer numbers them as tcpdump does by default.
func AppendPacket(b []byte, p *Packet, point string, data []byte, f Format) []byte {
	return appendPacket(b, p, point, data, f, nil)
}

// Printer prints packet lines as tcpdump -nn does with the flags of its
// Format, keeping what tcpdump keeps between packets: each TCP
// connection's first sequence numbers, to print the others relative.
type Printer struct {
	f    Format
	seqs tcpSeqs
}

// NewPrinter returns a printer for f; absolute prints TCP sequence numbers
// as sent (tcpdump -S).
func NewPrinter(f Format, absolute bool) *Printer {
	pr := &Printer{f: f}
	if !absolute {
		pr.seqs = tcpSeqs{}
	}
	return pr
}

// Append appends p's line, as AppendPacket does.
func (pr *Printer) Append(b []byte, p *Packet, point string, data []byte) []byte {
	return appendPacket(b, p, point, data, pr.f, pr.seqs)
}

func appendPacket(b []byte, p *Packet, point string, data []byte, f Format, seqs tcpSeqs) []byte {
	b = appendLineHead(b, p, point)
	st := lineStyle{verbose: f.Verbose, seqs: seqs}
	off := linkHeaderLen(p.Link, data)
	if f.Link {
		n := len(b)
		b = appendLinkHeader(b, p, data)
		st.link = len(b) > n
	}
	if f.Verbose > 0 && off <= len(data) {
		st.net = data[off:]
	}
	b = appendSummary(b, p, &st)
	from := off
	// tcpdump dumps from the link header too when its printer lost its
	// place (a TCP option's kind or length byte, an ICMPv6 field past the
	// capture): it no longer knows where the network header began.
	if f.Hex > 1 || f.Hex == 0 && f.ASCII > 1 || st.lost || p.Cut == "[|icmp6]" {
		from = 0
	}
	if from > len(data) {
		return b
	}
	switch {
	case f.Hex > 0:
		b = AppendHexASCII(b, data[from:])
	case f.ASCII > 0:
		b = AppendASCII(b, data[from:])
	}
	return b
}

// linkHeaderLen is where the network header starts, as tcpdump counts it
// for -X and -A.
func linkHeaderLen(lt capture.LinkType, data []byte) int {
	switch lt {
	case capture.LinkEthernet:
		n := 14
		for n <= len(data) && n >= 14 && isVLAN(binary.BigEndian.Uint16(data[n-2:])) && n+4 <= len(data) {
			n += 4
		}
		return n
	case capture.LinkSLL:
		return 16
	case capture.LinkSLL2:
		return 20
	case capture.LinkNull, capture.LinkLoop, capture.LinkPPP:
		return 4
	case linkNFLOG:
		if len(data) >= 4 {
			if off, _, err := nflogPayload(data); off > 0 && err == "" {
				return off
			}
		}
	}
	return 0
}

func isVLAN(t uint16) bool { return t == 0x8100 || t == 0x88a8 }

var ethertypeNames = map[uint16]string{
	0x0800: "IPv4", 0x0806: "ARP", 0x86dd: "IPv6", 0x8100: "802.1Q", 0x88a8: "802.1Q-QinQ",
	0x8035: "Reverse ARP", 0x88cc: "LLDP", 0x8847: "MPLS unicast", 0x8848: "MPLS multicast",
	0x8863: "PPPoE D", 0x8864: "PPPoE S", 0x9000: "Loopback", 0x88e5: "MACsec",
}

// appendLinkHeader writes what tcpdump -e prints for Ethernet: source and
// destination MAC, ethertype (and VLAN tags), frame length.
func appendLinkHeader(b []byte, p *Packet, data []byte) []byte {
	switch {
	case p.Link == capture.LinkEthernet && len(data) >= 14:
		return appendEthernet(b, data, p.Len)
	case p.Link == linkNFLOG && len(data) >= 4:
		return appendNFLOG(b, data, p.Len)
	}
	return b
}

// appendNFLOG writes an NFLOG header as tcpdump -e does: "version 0,
// resource ID 5, family IPv4 (2), length 132: ".
func appendNFLOG(b []byte, data []byte, frameLen int) []byte {
	b = append(b, "version "...)
	b = strconv.AppendUint(b, uint64(data[1]), 10)
	b = append(b, ", resource ID "...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(data[2:])), 10)
	b = append(b, ", family "...)
	switch data[0] {
	case 2:
		b = append(b, "IPv4"...)
	case 10:
		b = append(b, "IPv6"...)
	}
	b = append(b, " ("...)
	b = strconv.AppendUint(b, uint64(data[0]), 10)
	b = append(b, "), length "...)
	b = strconv.AppendInt(b, int64(frameLen), 10)
	return append(b, ": "...)
}

// appendEthernet writes an Ethernet header, data from its first byte,
// of a frame of length frameLen, as tcpdump -e does.
func appendEthernet(b []byte, data []byte, frameLen int) []byte {
	b = appendMAC(b, data[6:12])
	b = append(b, " > "...)
	b = appendMAC(b, data[0:6])
	b = append(b, ", "...)
	n := int64(frameLen)
	for off := 12; off+2 <= len(data); off += 4 {
		t := binary.BigEndian.Uint16(data[off:])
		if t <= 1500 {
			// tcpdump gives an 802.3 frame's length field as its length.
			b = append(b, "802.3"...)
			n = int64(t)
			break
		}
		b = append(b, "ethertype "...)
		if name, ok := ethertypeNames[t]; ok {
			b = append(b, name...)
		} else {
			b = append(b, "Unknown"...)
		}
		b = append(b, " (0x"...)
		b = appendHexDigits(b, uint64(t), 4)
		b = append(b, ')')
		if !isVLAN(t) || off+6 > len(data) {
			break
		}
		tci := binary.BigEndian.Uint16(data[off+2:])
		b = append(b, ", length "...)
		b = strconv.AppendInt(b, int64(frameLen), 10)
		b = append(b, ": vlan "...)
		b = strconv.AppendUint(b, uint64(tci&0xfff), 10)
		b = append(b, ", p "...)
		b = strconv.AppendUint(b, uint64(tci>>13), 10)
		if tci&0x1000 != 0 {
			b = append(b, ", DEI"...)
		}
		b = append(b, ", "...)
	}
	b = append(b, ", length "...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, ": "...)
}

func appendMAC(b []byte, m []byte) []byte {
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = appendHexDigits(b, uint64(x), 2)
	}
	return b
}

// appendHex writes v in lowercase hex, zero-padded to width digits.
func appendHexDigits(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for v > 0 || len(tmp)-i < width {
		i--
		tmp[i] = digits[v&0xf]
		v >>= 4
	}
	return append(b, tmp[i:]...)
}

var protoNames = map[uint8]string{
	0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6", 43: "Routing",
	44: "frag", 47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6", 59: "NONE", 60: "DSTOPTS",
	89: "OSPF", 103: "PIM", 112: "VRRP", 132: "SCTP",
}

func protoName(p uint8) string {
	if n, ok := protoNames[p]; ok {
		return n
	}
	return "unknown"
}

func appendIPv4Verbose(b []byte, ip []byte) []byte {
	tos := ip[1]
	b = append(b, "(tos 0x"...)
	b = appendHexDigits(b, uint64(tos), 1)
	switch tos & 3 {
	case 1:
		b = append(b, ",ECT(1)"...)
	case 2:
		b = append(b, ",ECT(0)"...)
	case 3:
		b = append(b, ",CE"...)
	}
	b = append(b, ", ttl "...)
	b = strconv.AppendUint(b, uint64(ip[8]), 10)
	b = append(b, ", id "...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(ip[4:])), 10)
	off := binary.BigEndian.Uint16(ip[6:])
	b = append(b, ", offset "...)
	b = strconv.AppendUint(b, uint64(off&0x1fff)*8, 10)
	b = append(b, ", flags ["...)
	n := len(b)
	for _, fl := range []struct {
		bit  uint16
		name string
	}{{0x2000, "+"}, {0x4000, "DF"}, {0x8000, "rsvd"}} {
		if off&fl.bit != 0 {
			if len(b) > n {
				b = append(b, ", "...)
			}
			b = append(b, fl.name...)
		}
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	b = append(b, "], proto "...)
	b = append(b, protoName(ip[9])...)
	b = append(b, " ("...)
	b = strconv.AppendUint(b, uint64(ip[9]), 10)
	b = append(b, "), length "...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(ip[2:])), 10)
	if int(ip[0]&0xf)*4 > 20 {
		b = append(b, ", options"...)
	}
	return append(b, ')')
}

func appendIPv6Verbose(b []byte, ip []byte) []byte {
	flow := binary.BigEndian.Uint32(ip[0:])
	b = append(b, '(')
	if flow&0x0ff00000 != 0 {
		b = append(b, "class 0x"...)
		b = appendHexDigits(b, uint64(flow&0x0ff00000>>20), 2)
		b = append(b, ", "...)
	}
	if flow&0xfffff != 0 {
		b = append(b, "flowlabel 0x"...)
		b = appendHexDigits(b, uint64(flow&0xfffff), 5)
		b = append(b, ", "...)
	}
	b = append(b, "hlim "...)
	b = strconv.AppendUint(b, uint64(ip[7]), 10)
	b = append(b, ", next-header "...)
	b = append(b, protoName(ip[6])...)
	b = append(b, " ("...)
	b = strconv.AppendUint(b, uint64(ip[6]), 10)
	b = append(b, ") payload length: "...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(ip[4:])), 10)
	return append(b, ')')
}

var optionNames = map[byte]string{0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 8: "TS",
	19: "md5", 28: "uto", 29: "tcp-ao", 30: "mptcp", 34: "tfo"}

// appendTCPOptions writes the options as tcpdump does: mss 1460,sackOK,TS
// val 1 ecr 0,nop,wscale 7.
func appendTCPOptions(b []byte, o []byte) []byte {
	for i := 0; i < len(o); {
		if i > 0 {
			b = append(b, ',')
		}
		kind := o[i]
		if name, ok := optionNames[kind]; ok {
			b = append(b, name...)
		} else {
			b = append(b, "unknown-"...)
			b = strconv.AppendUint(b, uint64(kind), 10)
		}
		if kind == 0 || kind == 1 {
			i++
			continue
		}
		if i+1 >= len(o) || o[i+1] < 2 || i+int(o[i+1]) > len(o) {
			return append(b, " [bad opt]"...)
		}
		v := o[i+2 : i+int(o[i+1])]
		switch {
		case kind == 2 && len(v) == 2:
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(v)), 10)
		case kind == 3 && len(v) == 1:
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(v[0]), 10)
		case kind == 8 && len(v) == 8:
			b = append(b, " val "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(v)), 10)
			b = append(b, " ecr "...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(v[4:])), 10)
		case kind == 5:
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(len(v)/8), 10)
			b = append(b, ' ')
			for j := 0; j+8 <= len(v); j += 8 {
				b = append(b, '{')
				b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(v[j:])), 10)
				b = append(b, ':')
				b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(v[j+4:])), 10)
				b = append(b, '}')
			}
		case kind != 4 && len(v) > 0:
			b = append(b, " 0x"...)
			for _, x := range v {
				b = appendHexDigits(b, uint64(x), 2)
			}
		}
		i += int(o[i+1])
	}
	return b
}

// tcpOptionData is how many bytes of value tcpdump reads for an option
// kind, given its length field l.
func tcpOptionData(kind, l byte) int {
	switch kind {
	case 2:
		return 2
	case 3:
		return 1
	case 4:
		return 0
	case 8:
		return 8
	}
	return max(int(l)-2, 0)
}

// appendTCPOptionsCut writes the options o that a snap length cut short
// as tcpdump does: the whole ones, then " [|tcp]" where a kind or length
// byte is missing (lost: tcpdump's printer gave up there), or the kind's
// name and " [|tcp]>" where its value is.
func appendTCPOptionsCut(b []byte, o []byte) (_ []byte, lost bool) {
	for i := 0; ; {
		if i > 0 {
			b = append(b, ',')
		}
		if i >= len(o) || o[i] > 1 && i+1 >= len(o) {
			return append(b, " [|tcp]"...), true
		}
		if o[i] <= 1 {
			b = appendTCPOptions(b, o[i:i+1])
			i++
			continue
		}
		n := 2 + tcpOptionData(o[i], o[i+1])
		if i+n > len(o) {
			if name, ok := optionNames[o[i]]; ok {
				b = append(b, name...)
			} else {
				b = append(b, "unknown-"...)
				b = strconv.AppendUint(b, uint64(o[i]), 10)
			}
			return append(b, " [|tcp]>"...), false
		}
		b = appendTCPOptions(b, o[i:i+n])
		i += n
	}
}

// isGraph is tcpdump's ND_ASCII_ISGRAPH: printable and not a space.
func isGraph(c byte) bool { return c > 0x20 && c <= 0x7e }

// AppendHexASCII writes data as tcpdump -X does: lines of 16 bytes in
// groups of two, each after "\n\t0xOFFS:  ", then the bytes as ASCII,
// '.' for anything but a visible character.
func AppendHexASCII(b []byte, data []byte) []byte {
	for off := 0; off < len(data); off += 16 {
		line := data[off:min(off+16, len(data))]
		b = append(b, "\n\t0x"...)
		b = appendHexDigits(b, uint64(off), 4)
		b = append(b, ": "...)
		n := len(b)
		for i := 0; i < len(line); i += 2 {
			b = append(b, ' ')
			b = appendHexDigits(b, uint64(line[i]), 2)
			if i+1 < len(line) {
				b = appendHexDigits(b, uint64(line[i+1]), 2)
			}
		}
		for len(b)-n < 40 {
			b = append(b, ' ')
		}
		b = append(b, "  "...)
		for _, c := range line {
			if !isGraph(c) {
				c = '.'
			}
			b = append(b, c)
		}
	}
	return b
}

// AppendASCII writes data as tcpdump -A does: on new lines, visible
// characters, spaces, tabs and newlines as they are, a CR before a newline
// dropped, anything else '.'.
func AppendASCII(b []byte, data []byte) []byte {
	b = append(b, '\n')
	for i, c := range data {
		switch {
		case c == '\r':
			if len(data)-i-1 > 1 && data[i+1] != '\n' {
				b = append(b, '.')
			}
		case isGraph(c) || c == '\t' || c == ' ' || c == '\n':
			b = append(b, c)
		default:
			b = append(b, '.')
		}
	}
	return b
}
