package decode

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/nsdump/nsdump/capture"
)

// The design card names gopacket/layers as nsdump's packet library; the
// decoder reads layers by hand instead (doc.go says why). This test holds
// the two to the same answers: every frame of every capture under testdata
// (nsdump's own and the peer corpus) is decoded by gopacket.NewPacket and by
// Decoder, and every field both expose is compared: addresses, ports, TCP
// flags, sequence and acknowledgement numbers and window, IPv4 TTL and id,
// ICMP type, code, id and sequence, ARP operation and addresses, VLAN ids,
// and a tunnel's outer addresses, ports and key/VNI/label/session with the
// inner packet's fields. A disagreement is either a hazard of gopacket's
// listed in gopacketHazards, with the reason, or a failure. A frame gopacket
// fails on must have its error listed in gopacketRefusals; the layers it
// decoded before the error are compared all the same.

// gpFacts is what a decoder says of one frame, in one vocabulary. Only the
// fields both sides filled are compared.
type gpFacts struct {
	has map[string]string
}

func (f *gpFacts) set(field string, v any) {
	if f.has == nil {
		f.has = map[string]string{}
	}
	f.has[field] = fmt.Sprint(v)
}

// gpHazard is a documented case where gopacket's reading is not the wire's.
type gpHazard struct {
	name, reason string
	// match reports whether the disagreement on field is this hazard's.
	match func(pkt gopacket.Packet, p *Packet, field string) bool
}

var gopacketHazards = []gpHazard{
	{"GREv1 key", "enhanced GRE (version 1, PPTP, RFC 2637) puts the payload length in the upper half of the key field and " +
		"the call ID in the lower; gopacket reads all 32 bits as a version 0 key, nsdump the call ID as tcpdump does (\"GREv1, call 0\")",
		func(pkt gopacket.Packet, p *Packet, field string) bool {
			gre, ok := pkt.Layer(layers.LayerTypeGRE).(*layers.GRE)
			return field == "tunnel.id" && ok && gre.Version == 1 && p.Tunnel.Kind == TunnelGRE && p.Tunnel.ID == gre.Key&0xffff
		}},
}

// gopacketRefusals are the frames gopacket decodes with an error (an
// ErrorLayer) that nsdump reads: its error message, and why. The layers
// gopacket decoded before the one it failed on are still compared. An
// error not listed here fails the test, so that a new kind of frame gopacket
// cannot read is looked at.
var gopacketRefusals = []struct{ message, reason string }{
	{"TCP data offset greater than packet length", "a snaplen cut inside the TCP options: gopacket drops the whole TCP header; " +
		"nsdump keeps the fields before the cut and prints [|tcp] as tcpdump does (tcpdump -s 60 captures)"},
	{"Invalid ip6-extension header", "an IPv6 extension header cut by the snaplen: nsdump prints [|hbhopt] as tcpdump does"},
	{"ICMP layer less then 20 bytes for ICMPv6 neighbor solicitation", "a neighbour solicitation cut by the snaplen: nsdump keeps its type and code"},
	{"Unable to decode LinkType 20", "gopacket's LinkType is a uint8: LINKTYPE_LINUX_SLL2 (276) becomes 20, which it cannot decode; nsdump reads SLL2"},
	{"Unable to decode LinkType 239", "gopacket has no NFLOG decoder (LINKTYPE_NFLOG, nflog:N captures)"},
	{"Unable to decode PPPType", "a PPP control protocol (LCP) gopacket has no decoder for; nsdump names it and stops"},
	{"Unable to decode EthernetType 32821", "RARP (0x8035): no gopacket decoder; nsdump names the Ethernet type and stops"},
	{"DHCP", "a DHCP payload gopacket finds short or bad; nsdump reads no application layer (UDP and below are compared)"},
	{"Invalid (too small) IP header length", "both refuse it: nsdump reports the packet malformed (IPv4 header length below 20)"},
	{"Invalid UDP header. Length", "a UDP header cut short: nsdump prints [|udp] as tcpdump does"},
	{"Invalid TCP header. Length", "a TCP header cut short: nsdump prints [|tcp] as tcpdump does"},
}

// gopacketFacts reads the fields of a gopacket decoding. The layers after
// the innermost encapsulation (VXLAN, GENEVE, GRE, MPLS, PPPoE, or an IP
// header right after another) are the packet's, as in nsdump's Packet; the
// first IP layer and the UDP after it are the tunnel's outer fields.
func gopacketFacts(pkt gopacket.Packet) gpFacts {
	var f gpFacts
	ls := pkt.Layers()
	encap := -1 // index of the innermost encapsulation layer
	var outerIP gopacket.Layer
	var tunnelID []string
	for i, l := range ls {
		switch l := l.(type) {
		case *layers.VXLAN:
			encap, tunnelID = i, append(tunnelID, fmt.Sprint("vni ", l.VNI))
		case *layers.Geneve:
			encap, tunnelID = i, append(tunnelID, fmt.Sprint("vni ", l.VNI))
		case *layers.GRE:
			encap = i
			if l.KeyPresent {
				tunnelID = append(tunnelID, fmt.Sprint("key ", l.Key))
			}
		case *layers.MPLS:
			if encap != i-1 || len(tunnelID) == 0 { // the top label of a stack
				tunnelID = append(tunnelID, fmt.Sprint("label ", l.Label))
			}
			encap = i
		case *layers.PPPoE:
			encap, tunnelID = i, append(tunnelID, fmt.Sprint("session ", l.SessionId))
		case *layers.IPv4, *layers.IPv6:
			if i > 0 && (ls[i-1].LayerType() == layers.LayerTypeIPv4 || ls[i-1].LayerType() == layers.LayerTypeIPv6) {
				encap = i - 1
			}
			if outerIP == nil {
				outerIP = l
			}
		}
	}
	var vlans []string
	for i, l := range ls {
		if d, ok := l.(*layers.Dot1Q); ok && (encap < 0 || i < encap) {
			vlans = append(vlans, fmt.Sprint(d.VLANIdentifier))
		}
	}
	if len(vlans) > 0 {
		f.set("vlan", strings.Join(vlans, " "))
	}
	if encap >= 0 {
		if len(tunnelID) > 0 {
			f.set("tunnel.id", tunnelID[0])
		}
		if outerIP != nil {
			f.set("tunnel.ip", ipFacts(outerIP))
		}
		for _, l := range ls[:encap] {
			if u, ok := l.(*layers.UDP); ok {
				f.set("tunnel.port", fmt.Sprint(uint16(u.SrcPort), ">", uint16(u.DstPort)))
				break
			}
		}
	}
	for _, l := range ls[encap+1:] {
		switch l := l.(type) {
		case *layers.ARP:
			f.set("arp.op", l.Operation)
			// nsdump keeps MAC-48s and IPv4 addresses: other sizes are
			// not fields it has.
			if l.HwAddressSize == 6 {
				f.set("arp.mac", fmt.Sprintf("%x > %x", l.SourceHwAddress, l.DstHwAddress))
			}
			if l.Protocol == layers.EthernetTypeIPv4 && l.ProtAddressSize == 4 {
				f.set("arp.ip", fmt.Sprint(addrOf(l.SourceProtAddress), " > ", addrOf(l.DstProtAddress)))
			}
		case *layers.IPv4, *layers.IPv6:
			if _, done := f.has["ip"]; !done { // not an ICMP error's quote
				f.set("ip", ipFacts(l))
				if v4, ok := l.(*layers.IPv4); ok {
					f.set("ip.ttl", v4.TTL)
					f.set("ip.id", v4.Id)
				} else {
					f.set("ip.ttl", l.(*layers.IPv6).HopLimit)
				}
			}
		case *layers.TCP:
			f.set("ports", fmt.Sprint(uint16(l.SrcPort), ">", uint16(l.DstPort)))
			var flags uint8
			for i, on := range []bool{l.FIN, l.SYN, l.RST, l.PSH, l.ACK, l.URG, l.ECE, l.CWR} {
				if on {
					flags |= 1 << i
				}
			}
			f.set("tcp.flags", flags)
			f.set("tcp.seq", l.Seq)
			f.set("tcp.ack", l.Ack)
			f.set("tcp.window", l.Window)
		case *layers.UDP:
			f.set("ports", fmt.Sprint(uint16(l.SrcPort), ">", uint16(l.DstPort)))
		case *layers.ICMPv4:
			f.set("icmp.type", fmt.Sprint(l.TypeCode.Type(), "/", l.TypeCode.Code()))
			if t := l.TypeCode.Type(); t == 0 || t == 8 {
				f.set("icmp.echo", fmt.Sprint(l.Id, "/", l.Seq))
			}
		case *layers.ICMPv6:
			f.set("icmp.type", fmt.Sprint(l.TypeCode.Type(), "/", l.TypeCode.Code()))
		case *layers.ICMPv6Echo:
			f.set("icmp.echo", fmt.Sprint(l.Identifier, "/", l.SeqNumber))
		}
	}
	return f
}

func ipFacts(l gopacket.Layer) string {
	switch ip := l.(type) {
	case *layers.IPv4:
		return fmt.Sprint(addrOf(ip.SrcIP), ">", addrOf(ip.DstIP))
	case *layers.IPv6:
		return fmt.Sprint(addrOf(ip.SrcIP), ">", addrOf(ip.DstIP))
	}
	return ""
}

func addrOf(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	if len(b) == net.IPv4len {
		return a.Unmap()
	}
	return a
}

var vlanRE = regexp.MustCompile(`: vlan (\d+),`)

// nsdumpFacts reads the same fields from nsdump's Packet; VLAN ids come
// from what -e prints.
func nsdumpFacts(p *Packet, data []byte) gpFacts {
	var f gpFacts
	if m := vlanRE.FindAllStringSubmatch(string(appendLinkHeader(nil, p, data)), -1); len(m) > 0 {
		var ids []string
		for _, x := range m {
			ids = append(ids, x[1])
		}
		f.set("vlan", strings.Join(ids, " "))
	}
	switch p.Kind {
	case KindARP:
		f.set("arp.op", p.ARPOp)
		f.set("arp.mac", fmt.Sprintf("%x > %x", p.SenderMAC, p.TargetMAC))
		f.set("arp.ip", fmt.Sprint(p.ARPSender, " > ", p.ARPTarget))
	case KindIPv4, KindIPv6, KindICMP4, KindICMP6, KindTCP, KindUDP:
		f.set("ip", fmt.Sprint(p.Src, ">", p.Dst))
		f.set("ip.ttl", p.TTL)
		if p.Src.Is4() {
			f.set("ip.id", p.IPID)
		}
	}
	switch p.Kind {
	case KindTCP:
		f.set("ports", fmt.Sprint(p.SrcPort, ">", p.DstPort))
		if !p.PortsOnly {
			f.set("tcp.flags", p.Flags)
			f.set("tcp.seq", p.TCPSeq)
			f.set("tcp.ack", p.TCPAck)
			f.set("tcp.window", p.Window)
		}
	case KindUDP:
		f.set("ports", fmt.Sprint(p.SrcPort, ">", p.DstPort))
	case KindICMP4, KindICMP6:
		f.set("icmp.type", fmt.Sprint(p.ICMPType, "/", p.ICMPCode))
		if req, rep := p.Echo(); req || rep {
			f.set("icmp.echo", fmt.Sprint(p.ID, "/", p.Seq))
		}
	}
	if t := p.Tunnel; t.Kind != TunnelNone {
		if t.Src.IsValid() {
			f.set("tunnel.ip", fmt.Sprint(t.Src, ">", t.Dst))
		}
		if t.HasID {
			what := map[TunnelKind]string{TunnelGRE: "key", TunnelVXLAN: "vni", TunnelGENEVE: "vni", TunnelMPLS: "label", TunnelPPPoE: "session"}[t.Kind]
			f.set("tunnel.id", fmt.Sprint(what, " ", t.ID))
		}
		if t.Outer == KindUDP {
			f.set("tunnel.port", fmt.Sprint(t.SrcPort, ">", t.DstPort))
		}
	}
	return f
}

// captureFiles lists the files under dirs that may be captures.
func captureFiles(dirs ...string) []string {
	var out []string
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			switch filepath.Ext(path) {
			case ".txt", ".json", ".md", ".tsv", ".expect", ".go", ".c", ".py", ".sh":
				return nil
			}
			out = append(out, path)
			return nil
		})
	}
	sort.Strings(out)
	return out
}

func TestDecodeAgainstGopacket(t *testing.T) {
	files := captureFiles(filepath.Join("..", "testdata", "pcaps"), peerDir(t))
	var nfiles, refused, frames, gpErrors, compared, agreed, hazards int
	perField := map[string]int{}
	perHazard, perRefusal := map[string]int{}, map[string]int{}
	d := NewDecoder()
	for _, file := range files {
		fh, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		r, err := capture.NewReader(fh)
		if err != nil { // a README, or a file the peer corpus has because readers must refuse it
			fh.Close()
			refused++
			continue
		}
		nfiles++
		rel := file
		if i := strings.Index(file, "testdata"); i >= 0 {
			rel = file[i:]
		}
		for n := 1; ; n++ {
			fr, err := r.Next()
			if err != nil {
				var fe *capture.FormatError
				if !errors.Is(err, io.EOF) && !errors.As(err, &fe) {
					t.Fatalf("%s: %v", rel, err)
				}
				break
			}
			frames++
			pkt := gopacket.NewPacket(fr.Data, layers.LinkType(fr.LinkType), gopacket.DecodeOptions{NoCopy: true})
			if e := pkt.ErrorLayer(); e != nil {
				gpErrors++
				known := false
				for _, r := range gopacketRefusals {
					if strings.Contains(e.Error().Error(), r.message) {
						perRefusal[r.message]++
						known = true
						break
					}
				}
				if !known {
					t.Errorf("%s frame %d: gopacket fails with %q, a refusal not in gopacketRefusals", rel, n, e.Error())
				}
			} else {
				compared++
			}
			var p Packet
			d.Decode(fr, &p)
			gf, nf := gopacketFacts(pkt), nsdumpFacts(&p, fr.Data)
			for field, gv := range gf.has {
				nv, ok := nf.has[field]
				if !ok {
					continue
				}
				perField[field]++
				if gv == nv {
					agreed++
					continue
				}
				known := false
				for _, h := range gopacketHazards {
					if h.match(pkt, &p, field) {
						perHazard[h.name]++
						known, hazards = true, hazards+1
						break
					}
				}
				if !known {
					t.Errorf("%s frame %d: %s: nsdump %s, gopacket %s\n%s", rel, n, field, nv, gv, pkt.Dump())
				}
			}
		}
		fh.Close()
	}
	t.Logf("%d files nsdump does not open as captures; %d capture files, %d frames: gopacket decodes %d without error, fails on %d (the layers before its error compared too); "+
		"%d field values agree, %d differ by a listed gopacket hazard", refused, nfiles, frames, compared, gpErrors, agreed, hazards)
	t.Logf("values compared per field: %v", perField)
	t.Logf("gopacket's refusals: %v; hazards: %v", perRefusal, perHazard)
	if compared < 1000 {
		t.Errorf("only %d frames compared", compared)
	}
}
