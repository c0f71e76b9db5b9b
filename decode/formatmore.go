package decode

import "strconv"

// appendTunnel writes the outer layers of an encapsulated packet, tcpdump
// style, ending in ": " before the inner packet.
func appendTunnel(b []byte, t *Tunnel, st *lineStyle) []byte {
	b = appendTunnelHeader(b, t, st)
	if st.link && t.InnerLen > 0 {
		b = appendEthernet(b, t.InnerEth[:], int(t.InnerLen))
	}
	return b
}

func appendTunnelHeader(b []byte, t *Tunnel, st *lineStyle) []byte {
	switch t.Outer {
	case KindIPv4, KindIPv6, KindUDP:
		b = st.appendIPWord(b, t.Src)
		udp := t.Outer == KindUDP
		b = appendEndpoint(b, t.Src, t.SrcPort, udp)
		b = append(b, " > "...)
		b = appendEndpoint(b, t.Dst, t.DstPort, udp)
		b = append(b, ": "...)
	}
	switch t.Kind {
	case TunnelIP:
		return b // tcpdump prints the inner IP header right after the outer
	case TunnelGRE:
		b = append(b, "GRE"...)
		if t.Version == 1 {
			b = append(b, "v1, call "...)
			b = strconv.AppendUint(b, uint64(t.ID), 10)
			break
		}
		return appendGREv0(b, t, st)
	case TunnelERSPAN:
		b = append(b, "ERSPAN "...)
		b = append(b, [...]string{"", "I", "II", "III"}[t.Version&3]...)
		if t.HasID {
			b = append(b, ", session "...)
			b = strconv.AppendUint(b, uint64(t.ID), 10)
		}
	case TunnelVXLAN:
		// tcpdump prints the inner frame on a line of its own
		b = append(b, "VXLAN, flags ["...)
		if t.Flags&0x08 != 0 {
			b = append(b, 'I')
		} else {
			b = append(b, "none"...)
		}
		b = append(b, "] (0x"...)
		b = appendHexDigits(b, uint64(t.Flags), 2)
		b = append(b, "), vni "...)
		b = strconv.AppendUint(b, uint64(t.ID), 10)
		return append(b, '\n')
	case TunnelGENEVE:
		return appendGeneve(b, t, st)
	case TunnelMPLS:
		b = append(b, "MPLS (label "...)
		b = strconv.AppendUint(b, uint64(t.ID), 10)
		b = append(b, ')')
	case TunnelPPPoE:
		b = append(b, "PPPoE [ses "...)
		b = appendHex(b, t.ID, 0)
		b = append(b, ']')
	}
	return append(b, ": "...)
}

// appendGREv0 writes GRE as tcpdump does: "GREv0, key=0x7, length 92: ",
// the protocol type with -e.
func appendGREv0(b []byte, t *Tunnel, st *lineStyle) []byte {
	b = append(b, "v0"...)
	if t.HasID {
		b = append(b, ", key="...)
		b = appendHex(b, t.ID, 0)
	}
	if t.Flags&0x1000 != 0 {
		b = append(b, ", seq "...)
		b = strconv.AppendUint(b, uint64(t.Seq), 10)
	}
	if st.link {
		b = appendProto(b, t.Proto)
	}
	b = append(b, ", length "...)
	b = strconv.AppendUint(b, uint64(t.Len), 10)
	return append(b, ": "...)
}

// appendGeneve writes Geneve as tcpdump does: "Geneve, Flags [none], vni
// 0x4d, options [8 bytes]: ", the protocol type with -e.
func appendGeneve(b []byte, t *Tunnel, st *lineStyle) []byte {
	b = append(b, "Geneve, Flags ["...)
	switch t.Flags & 0xc0 {
	case 0:
		b = append(b, "none"...)
	case 0x80:
		b = append(b, 'O')
	case 0x40:
		b = append(b, 'C')
	default:
		b = append(b, "OC"...)
	}
	b = append(b, "], vni "...)
	b = appendHex(b, t.ID, 0)
	if st.link {
		b = appendProto(b, t.Proto)
	}
	if t.OptLen > 0 {
		b = append(b, ", options ["...)
		b = strconv.AppendUint(b, uint64(t.OptLen), 10)
		b = append(b, " bytes]"...)
	}
	return append(b, ": "...)
}

// appendProto writes ", proto IPv4 (0x0800)", as tcpdump -e names a
// tunnel's payload.
func appendProto(b []byte, proto uint16) []byte {
	b = append(b, ", proto "...)
	switch proto {
	case 0x6558:
		b = append(b, "TEB"...)
	default:
		if name, ok := ethertypeNames[proto]; ok {
			b = append(b, name...)
		} else {
			b = append(b, "unknown"...)
		}
	}
	b = append(b, " (0x"...)
	b = appendHexDigits(b, uint64(proto), 4)
	return append(b, ')')
}

// appendStop writes why decoding stopped at a layer nsdump does not follow.
func appendStop(b []byte, p *Packet) []byte {
	v := p.StopVal
	switch p.Stop {
	case StopLinkType:
		b = append(b, "link type "...)
		b = strconv.AppendUint(b, uint64(v), 10)
		return append(b, " not decoded"...)
	case StopEtherType:
		b = append(b, "ethertype "...)
		b = appendHex(b, v, 4)
		return appendName(b, etherNames, v)
	case StopLLC:
		b = append(b, "LLC, dsap "...)
		b = appendHex(b, v, 2)
		return appendName(b, llcNames, v)
	case StopFamily:
		b = append(b, "address family "...)
		return strconv.AppendUint(b, uint64(v), 10)
	case StopPPP:
		b = append(b, "PPP protocol "...)
		b = appendHex(b, v, 4)
		return appendName(b, pppNames, v)
	case StopIPVersion:
		b = append(b, "IP version "...)
		return strconv.AppendUint(b, uint64(v), 10)
	case StopGRE:
		b = append(b, "GRE with source routing or version "...)
		return strconv.AppendUint(b, uint64(v&7), 10)
	case StopGENEVE:
		b = append(b, "Geneve version "...)
		return strconv.AppendUint(b, uint64(v), 10)
	case StopMPLS:
		return append(b, "MPLS payload is not IP (a pseudowire?)"...)
	case StopNFLOG:
		return append(b, "NFLOG record without a packet"...)
	case StopDepth:
		return append(b, "too many nested headers"...)
	}
	return b
}

func appendHex(b []byte, v uint32, digits int) []byte {
	b = append(b, "0x"...)
	n := 1
	for x := v >> 4; x != 0; x >>= 4 {
		n++
	}
	for ; n < digits; n++ {
		b = append(b, '0')
	}
	return strconv.AppendUint(b, uint64(v), 16)
}

func appendName(b []byte, names map[uint32]string, v uint32) []byte {
	if n, ok := names[v]; ok {
		b = append(b, " ("...)
		b = append(b, n...)
		b = append(b, ')')
	}
	return b
}

var etherNames = map[uint32]string{
	0x0842: "Wake-on-LAN", 0x8035: "RARP", 0x8137: "IPX", 0x8809: "slow protocols: LACP",
	0x8863: "PPPoE discovery", 0x888e: "EAPOL", 0x88cc: "LLDP", 0x88e5: "MACsec", 0x88f7: "PTP",
	0x8902: "CFM", 0x9000: "loopback", 0x893a: "IEEE 1905",
}

var llcNames = map[uint32]string{0x42: "STP", 0xe0: "IPX", 0xf0: "NetBIOS", 0xfe: "OSI"}

var pppNames = map[uint32]string{
	0xc021: "LCP", 0x8021: "IPCP", 0x8057: "IPv6CP", 0xc023: "PAP", 0xc223: "CHAP", 0x80fd: "CCP",
}
