package decode

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// crafted: frames built for the layers the lab kernel cannot make, each
// with the line tcpdump 4.99 -n prints for it (tshark's reading for
// ERSPAN, which this tcpdump leaves as gre-proto), and nsdump's.
var crafted = []struct {
	name      string
	link      capture.LinkType
	hex, want string
}{
	// IP6 fd00::1 > fd00::2: DSTOPT RT6 (len=0, type=0 [Deprecated], segleft=0) ICMP6, echo request, id 5, seq 1, length 16
	{"ip6 dstopts routing", 1, "02020202020204040404040486dd6000000000203c40fd000000000000000000000000000001fd0000000000000000000000000000022b000104000000003a000000000000008000ccd8000500016e7364756d707878", "IP6 fd00::1 > fd00::2: ICMP6, echo request, id 5, seq 1, length 16"},
	// IP6 fd00::1 > fd00::2: frag (0|16) ICMP6, echo request, id 5, seq 1, length 16
	{"ip6 first fragment", 1, "02020202020204040404040486dd6000000000182c40fd000000000000000000000000000001fd0000000000000000000000000000023a000001000012348000ccd8000500016e7364756d707878", "IP6 fd00::1 > fd00::2: frag (0|16) ICMP6, echo request, id 5, seq 1, length 16"},
	// IP6 fd00::1 > fd00::2: frag (1448|16)
	{"ip6 later fragment", 1, "02020202020204040404040486dd6000000000182c40fd000000000000000000000000000001fd0000000000000000000000000000023a0005a80000123478787878787878787878787878787878", "IP6 fd00::1 > fd00::2: frag (1448|16)"},
	// IP 10.99.0.1 > 10.99.0.2: GREv0, key=0x7, length 44: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"gre key", 1, "02020202020204040404040408004500004000014000402f25c60a6300010a63000220000800000000074500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.99.0.1 > 10.99.0.2: GREv0, key=0x7, length 44: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// tshark: ERSPAN Type II, SpanID 123: 10.200.1.1 > 10.200.1.2 ICMP Echo (ping) request id=0x004d, seq=1
	{"erspan II", 1, "02020202020204040404040408004500005600014000402f25b00a6300010a630002100088be000000011000007b0000000002020202020204040404040408004500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.99.0.1 > 10.99.0.2: ERSPAN II, session 123: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// tshark: ERSPAN Type III, SpanID 55: 10.200.1.1 > 10.200.1.2 ICMP Echo (ping) request id=0x004d, seq=1
	{"erspan III", 1, "02020202020204040404040408004500005a00014000402f25ac0a6300010a630002100022eb0000000120000037000000000000000002020202020204040404040408004500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.99.0.1 > 10.99.0.2: ERSPAN III, session 55: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// IP 10.99.0.1.40000 > 10.99.0.2.4789: VXLAN, flags [I] (0x08), vni 42 / IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"vxlan", 1, "02020202020204040404040408004500005600014000401125ce0a6300010a6300029c4012b5004200000800000000002a0002020202020204040404040408004500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.99.0.1.40000 > 10.99.0.2.4789: VXLAN, flags [I] (0x08), vni 42\nIP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// IP 10.99.0.1.40000 > 10.99.0.2.6081: Geneve, Flags [none], vni 0x4d, options [8 bytes]: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"geneve", 1, "02020202020204040404040408004500005e00014000401125c60a6300010a6300029c4017c1004a00000200655800004d00010280010000000102020202020204040404040408004500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.99.0.1.40000 > 10.99.0.2.6081: Geneve, Flags [none], vni 0x4d, options [8 bytes]: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// IP 10.99.0.1 > 10.99.0.2: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"ipip", 1, "02020202020204040404040408004500003800014000400425f90a6300010a6300024500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.99.0.1 > 10.99.0.2: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// IP 10.99.0.1 > 10.99.0.2: IP6 fd00::1 > fd00::2: ICMP6, echo request, id 5, seq 1, length 16
	{"6in4", 1, "02020202020204040404040408004500004c00014000402925c00a6300010a6300026000000000103a40fd000000000000000000000000000001fd0000000000000000000000000000028000ccd8000500016e7364756d707878", "IP 10.99.0.1 > 10.99.0.2: IP6 fd00::1 > fd00::2: ICMP6, echo request, id 5, seq 1, length 16"},
	// MPLS (label 100, tc 0, [S], ttl 64) IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"mpls", 1, "0202020202020404040404048847000641404500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "MPLS (label 100): IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// PPPoE  [ses 0x11] IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"pppoe", 1, "020202020202040404040404886411000011002600214500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "PPPoE [ses 0x11]: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// LLDP, length 43
	{"lldp", 1, "0180c200000e04040404040488cc02070400000000000000000000000000000000000000000000000000000000000000000000000000000000", "undecoded: ethertype 0x88cc (LLDP), length 57"},
	// IP 10.99.0.1.40000 > 10.99.0.2.7096: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK, [|tcp]
	{"tcp syn cut", 1, "02020202020204040404040408004500003c00014000400625f30a6300010a6300029c401bb8000003e800000000a002faf000000000020405b40402", "IP 10.99.0.1.40000 > 10.99.0.2.7096: Flags [S], seq 1000, win 64240, options [mss 1460,sackOK, [|tcp]"},
	// IP 10.99.0.1.40000 > 10.99.0.2.7096: Flags [S], seq 1000, win 64240, options [[bad opt]
	{"tcp bad option", 1, "02020202020204040404040408004500002c00014000400626030a6300010a6300029c401bb8000003e8000000006002faf000000000020905b4", "IP 10.99.0.1.40000 > 10.99.0.2.7096: Flags [S], seq 1000, win 64240, length 0 [bad opt]"},
	// IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"loop", 108, "000000024500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"nflog", 239, "0200000007000a0061620000280009004500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// IP6 fd00::1 > fd00::2: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"4in6", 1, "02020202020204040404040486dd6000000000240440fd000000000000000000000000000001fd0000000000000000000000000000024500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP6 fd00::1 > fd00::2: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// tshark: 10.200.1.1 → 10.200.1.2 ICMP 88 Echo (ping) request id=0x004d, seq=1/256, ttl=64
	{"erspan I", 1, "02020202020204040404040408004500004a00014000402f25bc0a6300010a630002000088be02020202020204040404040408004500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.99.0.1 > 10.99.0.2: ERSPAN I: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// IP 10.99.0.1 > 10.99.0.2: GREv0, off 0x0, length 44: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16
	{"gre checksum", 1, "02020202020204040404040408004500004000014000402f25c60a6300010a63000280000800000000004500002400014000400123460ac801010ac8010208003ee0004d00016e7364756d707878", "IP 10.99.0.1 > 10.99.0.2: GREv0, length 44: IP 10.200.1.1 > 10.200.1.2: ICMP echo request, id 77, seq 1, length 16"},
	// ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28
	{"vlan arp", 1, "02020202020204040404040481000064080600010800060400010404040404040a0000010000000000000a000002", "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"},
}

func TestDecodeCrafted(t *testing.T) {
	d := NewDecoder()
	for _, c := range crafted {
		t.Run(c.name, func(t *testing.T) {
			b, err := hex.DecodeString(c.hex)
			if err != nil {
				t.Fatal(err)
			}
			var p Packet
			d.Decode(capture.Frame{Time: time.Unix(1, 0), LinkType: c.link, Len: len(b), Data: b}, &p)
			if got := string(AppendSummary(nil, &p)); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
			if p.Malformed != "" {
				t.Errorf("malformed: %s", p.Malformed)
			}
		})
	}
}

// TestQuote6PastExtensionHeaders: a packet too big that quotes a first
// fragment of an echo names the echo, so it joins its exchange.
func TestQuote6PastExtensionHeaders(t *testing.T) {
	// IP6 fd00::ff > fd00::1: ICMP6, packet too big, mtu 1280, quoting
	// IP6 fd00::1 > fd00::2: frag (0|16) ICMP6, echo request, id 5, seq 1
	quoted := "6000000000202c40" + "fd000000000000000000000000000001" + "fd000000000000000000000000000002" +
		"3a00000100001234" + "8000000000050001" + "6e7364756d707878"
	icmp := "02000000" + "00000500" + quoted
	frame := "020202020202040404040404" + "86dd" + "6000000000" + "48" + "3a40" +
		"fd0000000000000000000000000000ff" + "fd000000000000000000000000000001" + icmp
	b, err := hex.DecodeString(frame)
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	NewDecoder().Decode(capture.Frame{LinkType: capture.LinkEthernet, Len: len(b), Data: b}, &p)
	q := p.Quote
	if p.Kind != KindICMP6 || p.ICMPType != 2 || !q.Valid || q.Proto != 58 || q.ICMPType != 128 || q.ID != 5 || q.Seq != 1 {
		t.Fatalf("packet too big decoded as %s, quote %+v", AppendSummary(nil, &p), q)
	}
}
