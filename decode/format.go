package decode

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/nsdump/nsdump/capture"
)

// tcpFlags writes flags as tcpdump does: [S], [S.], [P.], [R.], [F.].
// The 256 strings are made once: no allocation per packet.
func tcpFlags(f uint8) string { return flagNames[f] }

var flagNames = func() (names [256]string) {
	for i := range names {
		names[i] = string(appendFlags(nil, uint8(i)))
	}
	return names
}()

func appendFlags(b []byte, f uint8) []byte {
	b = append(b, '[')
	n := len(b)
	for _, fl := range []struct {
		bit uint8
		c   byte
	}{{FIN, 'F'}, {SYN, 'S'}, {RST, 'R'}, {PSH, 'P'}, {ACK, '.'}, {URG, 'U'}, {ECE, 'E'}, {CWR, 'W'}} {
		if f&fl.bit != 0 {
			b = append(b, fl.c)
		}
	}
	if len(b) == n {
		b = append(b, "none"...)
	}
	return append(b, ']')
}

// describe names a packet's role in its exchange.
func describe(p *Packet) string {
	switch p.Kind {
	case KindTCP:
		return tcpFlags(p.Flags)
	case KindARP:
		if p.ARPOp == 1 {
			return "who-has"
		}
		return "is-at"
	case KindICMP4, KindICMP6:
		if req, rep := p.Echo(); req {
			return "request"
		} else if rep {
			return "reply"
		}
		return icmpText(p.Kind, p.ICMPType, p.ICMPCode)
	}
	return "packet"
}

var unreach4 = [...]string{"net unreachable", "host unreachable", "protocol unreachable", "port unreachable",
	"fragmentation needed", "source route failed", "net unknown", "host unknown", "source host isolated",
	"net prohibited", "host prohibited", "net unreachable for TOS", "host unreachable for TOS",
	"communication prohibited by filter", "host precedence violation", "precedence cutoff"}

var unreach6 = [...]string{"no route", "administratively prohibited", "beyond scope", "address unreachable",
	"port unreachable", "source address failed policy", "reject route"}

// icmpText names an ICMP or ICMPv6 type and code.
func icmpText(k Kind, typ, code uint8) string {
	if k == KindICMP6 {
		switch typ {
		case 1:
			if int(code) < len(unreach6) {
				return "unreachable: " + unreach6[code]
			}
			return "unreachable"
		case 2:
			return "packet too big"
		case 3:
			return "time exceeded"
		case 4:
			return "parameter problem"
		case 128:
			return "echo request"
		case 129:
			return "echo reply"
		case 133:
			return "router solicitation"
		case 134:
			return "router advertisement"
		case 135:
			return "neighbor solicitation"
		case 136:
			return "neighbor advertisement"
		case 130, 131, 132, 143:
			return "multicast listener"
		}
		return "type " + strconv.Itoa(int(typ))
	}
	switch typ {
	case 0:
		return "echo reply"
	case 8:
		return "echo request"
	case 3:
		if int(code) < len(unreach4) {
			return unreach4[code]
		}
		return "unreachable"
	case 11:
		if code == 1 {
			return "time exceeded in-transit reassembly"
		}
		return "time exceeded in-transit"
	case 5:
		return "redirect"
	case 12:
		return "parameter problem"
	}
	return "type " + strconv.Itoa(int(typ))
}

// AppendLine appends the one-line, tcpdump-like summary of p: time,
// capture point, direction, then the packet.
func AppendLine(b []byte, p *Packet, point string) []byte {
	return AppendSummary(appendLineHead(b, p, point), p)
}

// appendLineHead writes what comes before the summary: time, capture
// point, direction.
func appendLineHead(b []byte, p *Packet, point string) []byte {
	if p.NoTime {
		b = append(b, "--:--:--.------"...)
	} else {
		b = appendClock(b, p.Time.UnixNano())
	}
	b = append(b, ' ')
	if point != "" {
		b = AppendPrintable(b, point)
		b = append(b, ' ')
	}
	// A file that does not record directions (a plain pcap) gets none, as
	// tcpdump prints none: not a bare "-".
	if p.Dir != capture.DirUnknown {
		b = append(b, p.Dir.String()...)
		b = append(b, ' ')
	}
	return b
}

// appendClock writes UTC hh:mm:ss.uuuuuu, as tcpdump prints it by
// default, without time.Format's cost on the per-packet path.
func appendClock(b []byte, ns int64) []byte {
	us := ns / 1000
	if us < 0 {
		us = 0
	}
	day := us % (86400 * 1_000_000)
	secs, frac := day/1_000_000, day%1_000_000
	two := func(b []byte, v int64) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(b, secs/3600)
	b = append(b, ':')
	b = two(b, secs/60%60)
	b = append(b, ':')
	b = two(b, secs%60)
	b = append(b, '.')
	for div := int64(100000); div > 0; div /= 10 {
		b = append(b, byte('0'+frac/div%10))
	}
	return b
}

// AppendSummary appends what tcpdump -nn -S prints after the time:
// without the state of earlier packets, TCP sequence numbers are absolute.
func AppendSummary(b []byte, p *Packet) []byte {
	return appendSummary(b, p, &lineStyle{})
}

// lineStyle is what shapes a summary beyond the packet itself.
type lineStyle struct {
	verbose int
	// link: the link-layer header is printed before the summary (-e), so
	// the protocol words ("IP ", "ARP, ") go, as tcpdump -e drops them,
	// inside tunnels too.
	link bool
	// net is the frame from the network header on, for -v's IP header
	// fields; used once, by the outermost IP header.
	net []byte
	// tcpNet is net once the outermost IP header is printed: the TCP
	// checksum is checked there, as tcpdump -v does.
	tcpNet []byte
	// cutShown: the summary already ends with where the packet was cut;
	// lost: where tcpdump's printer gave up, not knowing where it was.
	cutShown, lost bool
	// seqs numbers TCP sequences relative to each connection's first, as
	// tcpdump does by default; nil gives them absolute (tcpdump -S).
	seqs tcpSeqs
}

// appendIPWord writes "IP " or "IP6 ", with the outermost header's -v
// fields, or nothing after a -e link header.
func (st *lineStyle) appendIPWord(b []byte, a netip.Addr) []byte {
	six := a.Is6() && !a.Is4In6()
	net := st.net
	st.net, st.tcpNet = nil, net
	if st.link {
		// no word: tcpdump -e prints none at any depth
	} else if six {
		b = append(b, "IP6 "...)
	} else {
		b = append(b, "IP "...)
	}
	switch {
	case st.verbose == 0:
	case six && len(net) >= 40 && net[0]>>4 == 6:
		b = appendIPv6Verbose(b, net)
		b = append(b, ' ')
	case !six && len(net) >= 20 && net[0]>>4 == 4:
		b = appendIPv4Verbose(b, net)
		b = append(b, "\n    "...)
	}
	return b
}

func appendSummary(b []byte, p *Packet, st *lineStyle) []byte {
	if p.Tunnel.Kind != TunnelNone {
		b = appendTunnel(b, &p.Tunnel, st)
	}
	switch p.Kind {
	case KindARP:
		return appendARP(b, p, st)
	case KindOther:
		if p.Malformed != "" {
			return append(append(b, "undecoded: "...), p.Malformed...)
		}
		if p.Stop != StopNone {
			b = appendStop(append(b, "undecoded: "...), p)
			b = append(b, ", length "...)
		} else {
			b = append(b, "frame, length "...)
		}
		return strconv.AppendInt(b, int64(p.Len), 10)
	}
	b = appendIP(b, p, st)
	switch {
	case st.cutShown:
	case p.Cut != "":
		b = append(append(b, ' '), p.Cut...)
	case p.Truncated:
		b = append(b, " [truncated]"...)
	}
	return b
}

// appendIP writes an IP packet: addresses (and ports), the IPv6
// extension headers tcpdump names, then what the IP header carries.
func appendIP(b []byte, p *Packet, st *lineStyle) []byte {
	b = st.appendIPWord(b, p.Src)
	ports := p.Kind == KindTCP || p.Kind == KindUDP || p.PortsOnly
	b = appendEndpoint(b, p.Src, p.SrcPort, ports)
	b = append(b, " > "...)
	b = appendEndpoint(b, p.Dst, p.DstPort, ports)
	b = append(b, ": "...)
	if p.IP6Ext&ExtHopByHop != 0 {
		b = append(b, "HBH "...)
	}
	if p.Frag && p.Src.Is6() && !p.Src.Is4In6() {
		b = append(b, "frag ("...)
		b = strconv.AppendUint(b, uint64(p.FragOff)*8, 10)
		b = append(b, '|')
		b = strconv.AppendUint(b, uint64(p.FragLen), 10)
		b = append(b, ')')
		if p.FragOff != 0 {
			return b // tcpdump prints nothing of a later fragment's payload
		}
		b = append(b, ' ')
	}
	switch p.Kind {
	case KindTCP:
		return appendTCP(b, p, st)
	case KindUDP:
		b = append(b, "UDP, length "...)
		return strconv.AppendInt(b, int64(p.PayloadLen), 10)
	case KindICMP4, KindICMP6:
		return appendICMP(b, p)
	}
	return appendIPOther(b, p)
}

// appendIPOther writes what nsdump does not decode inside IP: a later
// IPv4 fragment, a protocol it stops at, by number.
func appendIPOther(b []byte, p *Packet) []byte {
	if p.Frag && p.FragOff != 0 {
		b = append(b, "fragment "...)
		b = strconv.AppendUint(b, uint64(p.FragOff)*8, 10)
		b = append(b, ", "...)
	}
	if p.Stop != StopNone || p.Malformed != "" {
		b = append(b, "undecoded: "...)
		if b = appendStop(b, p); p.Malformed != "" {
			b = append(b, p.Malformed...)
		}
		b = append(b, ", "...)
	}
	// an IPv6 extension header cut short: tcpdump names no protocol
	extCutShort := p.Kind == KindIPv6 && p.Cut != "" && p.Cut == extCut[p.Proto]
	if !p.PortsOnly && !extCutShort {
		b = append(b, "ip-proto-"...)
		b = strconv.AppendUint(b, uint64(p.Proto), 10)
	}
	return b
}

// appendTCP writes what follows the ports, as tcpdump prints it: seq only
// when the segment has data or SYN, FIN or RST (always with -vv), as a
// range when it has data; the options whenever the header has them.
func appendTCP(b []byte, p *Packet, st *lineStyle) []byte {
	b = append(b, "Flags "...)
	b = appendFlags(b, p.Flags)
	if st.verbose > 0 && st.tcpNet != nil {
		if field, want, ok := tcpChecksum(p, st.tcpNet); ok {
			b = appendTCPChecksum(b, field, want)
		}
	}
	seq, ack := st.seqs.relative(p)
	if st.verbose > 1 || p.PayloadLen > 0 || p.Flags&(SYN|FIN|RST) != 0 {
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(seq), 10)
		if p.PayloadLen > 0 {
			b = append(b, ':')
			b = strconv.AppendUint(b, uint64(seq+uint32(p.PayloadLen)), 10)
		}
	}
	if p.Flags&ACK != 0 {
		b = append(b, ", ack "...)
		b = strconv.AppendUint(b, uint64(ack), 10)
	}
	b = append(b, ", win "...)
	b = strconv.AppendUint(b, uint64(p.Window), 10)
	if p.Flags&URG != 0 {
		b = append(b, ", urg "...)
		b = strconv.AppendUint(b, uint64(p.Urgent), 10)
	}
	switch {
	case p.Cut == "[|tcp]":
		// cut inside the options: what tcpdump prints ends there
		b = append(b, ", options ["...)
		st.cutShown = true
		b, st.lost = appendTCPOptionsCut(b, p.TCPOpts[:p.TCPOptLen])
		return b
	case p.TCPOptLen > 0 && p.Cut == "":
		b = append(b, ", options ["...)
		b = appendTCPOptions(b, p.TCPOpts[:p.TCPOptLen])
		b = append(b, ']')
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(p.PayloadLen), 10)
}

// appendICMP writes an ICMP or ICMPv6 message as tcpdump -nn does, its
// length (the ICMP message's, from the IP header) last.
func appendICMP(b []byte, p *Packet) []byte {
	if p.Kind == KindICMP6 {
		b = append(b, "ICMP6, "...)
		b = appendICMP6Text(b, p)
	} else {
		b = append(b, "ICMP "...)
		b = appendICMP4Text(b, p)
	}
	if p.Cut == "" && p.IPLen > 0 {
		b = append(b, ", length "...)
		b = strconv.AppendInt(b, int64(max(p.IPLen-p.IPHdrLen, 0)), 10)
	}
	return b
}

func appendEcho(b []byte, p *Packet) []byte {
	b = append(b, ", id "...)
	b = strconv.AppendUint(b, uint64(p.ID), 10)
	b = append(b, ", seq "...)
	return strconv.AppendUint(b, uint64(p.Seq), 10)
}

// unreach4TD are tcpdump's words for ICMP destination unreachable codes:
// %s is the quoted packet's destination.
var unreach4TD = [...]string{0: "net %s unreachable", 1: "host %s unreachable",
	5: "%s unreachable - source route failed", 6: "net %s unreachable - unknown",
	7: "host %s unreachable - unknown", 8: "%s unreachable - source host isolated",
	9: "net %s unreachable - admin prohibited", 10: "host %s unreachable - admin prohibited",
	11: "net %s unreachable - tos prohibited", 12: "host %s unreachable - tos prohibited",
	13: "%s unreachable - admin prohibited filter", 14: "%s unreachable - host precedence violation",
	15: "%s unreachable - precedence cutoff"}

func appendICMP4Text(b []byte, p *Packet) []byte {
	if req, rep := p.Echo(); req || rep {
		return appendEcho(append(b, icmpText(p.Kind, p.ICMPType, p.ICMPCode)...), p)
	}
	q := &p.Quote
	if p.ICMPType != 3 || !q.Valid {
		return append(b, icmpText(p.Kind, p.ICMPType, p.ICMPCode)...)
	}
	switch c := p.ICMPCode; {
	case c == 2:
		b = q.Dst.AppendTo(b)
		b = append(b, " protocol "...)
		return strconv.AppendUint(b, uint64(q.Proto), 10)
	case c == 3 && (q.Proto == 6 || q.Proto == 17):
		b = q.Dst.AppendTo(b)
		b = append(b, [...]string{6: " tcp port ", 17: " udp port "}[q.Proto]...)
		b = strconv.AppendUint(b, uint64(q.DstPort), 10)
		return append(b, " unreachable"...)
	case c == 4:
		b = q.Dst.AppendTo(b)
		b = append(b, " unreachable - need to frag (mtu "...)
		b = strconv.AppendUint(b, uint64(p.ICMPAux), 10)
		return append(b, ')')
	case int(c) < len(unreach4TD) && unreach4TD[c] != "":
		w := unreach4TD[c]
		at := strings.Index(w, "%s")
		b = append(b, w[:at]...)
		b = q.Dst.AppendTo(b)
		return append(b, w[at+2:]...)
	}
	return append(b, icmpText(p.Kind, p.ICMPType, p.ICMPCode)...)
}

func appendICMP6Text(b []byte, p *Packet) []byte {
	b = append(b, icmpText(p.Kind, p.ICMPType, p.ICMPCode)...)
	switch p.ICMPType {
	case 128, 129:
		return appendEcho(b, p)
	case 2:
		b = append(b, ", mtu "...)
		return strconv.AppendUint(b, uint64(p.ICMPAux), 10)
	case 135:
		if p.NDTarget.IsValid() {
			b = append(b, ", who has "...)
			b = p.NDTarget.AppendTo(b)
		}
	case 136:
		if p.NDTarget.IsValid() {
			b = append(b, ", tgt is "...)
			b = p.NDTarget.AppendTo(b)
		}
	case 143:
		b = append(b, " report v2, "...)
		b = strconv.AppendUint(b, uint64(p.ICMPAux), 10)
		b = append(b, " group record(s)"...)
	}
	return b
}

func appendEndpoint(b []byte, a netip.Addr, port uint16, withPort bool) []byte {
	b = a.AppendTo(b)
	if withPort {
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(port), 10)
	}
	return b
}

// appendARP writes ARP as tcpdump does: "ARP, " unless a -e link header
// came before, the Ethernet and IPv4 address lengths with -v, the length
// of the ARP packet last.
func appendARP(b []byte, p *Packet, st *lineStyle) []byte {
	if !st.link {
		b = append(b, "ARP, "...)
	}
	if st.verbose > 0 {
		b = append(b, "Ethernet (len 6), IPv4 (len 4), "...)
	}
	switch p.ARPOp {
	case 1:
		b = append(b, "Request who-has "...)
		b = p.ARPTarget.AppendTo(b)
		b = append(b, " tell "...)
		b = p.ARPSender.AppendTo(b)
	case 2:
		b = append(b, "Reply "...)
		b = p.ARPSender.AppendTo(b)
		b = append(b, " is-at "...)
		b = append(b, macString(p.SenderMAC)...)
	default:
		b = append(b, "op "...)
		b = strconv.AppendUint(b, uint64(p.ARPOp), 10)
	}
	b = append(b, ", length "...)
	return strconv.AppendInt(b, int64(p.IPLen), 10)
}
