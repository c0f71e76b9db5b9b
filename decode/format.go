package decode

import (
	"net/netip"
	"strconv"
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
	b = append(b, p.Dir.String()...)
	b = append(b, ' ')
	return AppendSummary(b, p)
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

// AppendSummary appends what tcpdump -n prints after the time.
func AppendSummary(b []byte, p *Packet) []byte {
	if p.Tunnel.Kind != TunnelNone {
		b = appendTunnel(b, &p.Tunnel)
	}
	switch p.Kind {
	case KindARP:
		return appendARP(b, p)
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
	if p.Src.Is6() && !p.Src.Is4In6() {
		b = append(b, "IP6 "...)
	} else {
		b = append(b, "IP "...)
	}
	ports := p.Kind == KindTCP || p.Kind == KindUDP || p.PortsOnly
	b = appendEndpoint(b, p.Src, p.SrcPort, ports)
	b = append(b, " > "...)
	b = appendEndpoint(b, p.Dst, p.DstPort, ports)
	b = append(b, ": "...)
	switch p.Kind {
	case KindTCP:
		b = append(b, "Flags "...)
		b = appendFlags(b, p.Flags)
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(p.TCPSeq), 10)
		if p.Flags&ACK != 0 {
			b = append(b, ", ack "...)
			b = strconv.AppendUint(b, uint64(p.TCPAck), 10)
		}
		b = append(b, ", win "...)
		b = strconv.AppendUint(b, uint64(p.Window), 10)
		b = append(b, ", length "...)
		b = strconv.AppendInt(b, int64(p.PayloadLen), 10)
	case KindUDP:
		b = append(b, "UDP, length "...)
		b = strconv.AppendInt(b, int64(p.PayloadLen), 10)
	case KindICMP4, KindICMP6:
		b = appendICMP(b, p)
	default:
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
		if !p.PortsOnly {
			b = append(b, "ip-proto-"...)
			b = strconv.AppendUint(b, uint64(p.Proto), 10)
		}
	}
	switch {
	case p.Cut != "":
		b = append(append(b, ' '), p.Cut...)
	case p.Truncated:
		b = append(b, " [truncated]"...)
	}
	return b
}

func appendICMP(b []byte, p *Packet) []byte {
	if p.Kind == KindICMP6 {
		b = append(b, "ICMP6, "...)
	} else {
		b = append(b, "ICMP "...)
	}
	b = append(b, icmpText(p.Kind, p.ICMPType, p.ICMPCode)...)
	if req, rep := p.Echo(); req || rep {
		b = append(b, ", id "...)
		b = strconv.AppendUint(b, uint64(p.ID), 10)
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(p.Seq), 10)
	}
	if p.NDTarget.IsValid() {
		b = append(b, ", target "...)
		b = p.NDTarget.AppendTo(b)
	}
	if p.Quote.Valid {
		b = append(b, " (quoting "...)
		b = appendEndpoint(b, p.Quote.Src, p.Quote.SrcPort, p.Quote.Proto == 6 || p.Quote.Proto == 17)
		b = append(b, " > "...)
		b = appendEndpoint(b, p.Quote.Dst, p.Quote.DstPort, p.Quote.Proto == 6 || p.Quote.Proto == 17)
		b = append(b, ')')
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

func appendARP(b []byte, p *Packet) []byte {
	switch p.ARPOp {
	case 1:
		b = append(b, "ARP, Request who-has "...)
		b = p.ARPTarget.AppendTo(b)
		b = append(b, " tell "...)
		return p.ARPSender.AppendTo(b)
	case 2:
		b = append(b, "ARP, Reply "...)
		b = p.ARPSender.AppendTo(b)
		b = append(b, " is-at "...)
		return append(b, macString(p.SenderMAC)...)
	}
	b = append(b, "ARP, op "...)
	return strconv.AppendUint(b, uint64(p.ARPOp), 10)
}
