package capture

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// testFrame builds an Ethernet frame: IPv4 or IPv6 (by the addresses)
// carrying proto with the given ports, or ARP when proto is 0 and the
// addresses are IPv4.
func testFrame(src, dst string, proto uint8, sport, dport uint16) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	f := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
	var l4 []byte
	switch proto {
	case 6, 17:
		l4 = binary.BigEndian.AppendUint16(nil, sport)
		l4 = binary.BigEndian.AppendUint16(l4, dport)
		l4 = append(l4, make([]byte, 16)...)
		if proto == 6 {
			l4[12], l4[13] = 0x50, 0x02 // SYN
		}
	case 1, 58:
		l4 = []byte{8, 0, 0, 0, 0, 1, 0, 1}
	}
	switch {
	case proto == 0:
		f = binary.BigEndian.AppendUint16(f, etARP)
		f = append(f, 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1)
		f = append(f, s.AsSlice()...)
		f = append(f, 0, 0, 0, 0, 0, 0)
		f = append(f, d.AsSlice()...)
	case s.Is4():
		f = binary.BigEndian.AppendUint16(f, etIPv4)
		h := []byte{0x45, 0, 0, byte(20 + len(l4)), 0, 0, 0x40, 0, 64, proto, 0, 0}
		f = append(append(append(append(f, h...), s.AsSlice()...), d.AsSlice()...), l4...)
	default:
		f = binary.BigEndian.AppendUint16(f, etIPv6)
		h := []byte{0x60, 0, 0, 0, 0, byte(len(l4)), proto, 64}
		f = append(append(append(append(f, h...), s.AsSlice()...), d.AsSlice()...), l4...)
	}
	return f
}

// TestFilterIssueExamples: each example of issue 13, with frames that
// must pass and frames that must not (tcpdump's verdicts; the
// differential test checks the same against libpcap at large).
func TestFilterIssueExamples(t *testing.T) {
	ssh := testFrame("10.0.1.1", "10.0.2.1", 6, 40000, 22)
	dnsUDP := testFrame("10.0.1.1", "10.0.2.1", 17, 40000, 53)
	dnsTCP := testFrame("10.0.1.1", "10.0.2.1", 6, 40000, 53)
	echo := testFrame("10.0.1.1", "10.0.2.1", 1, 0, 0)
	echoTo := testFrame("10.0.1.1", "10.20.9.9", 1, 0, 0)
	arpFor := testFrame("10.0.1.1", "10.20.9.9", 0, 0, 0)
	arpOther := testFrame("10.0.1.1", "10.0.2.1", 0, 0, 0)
	for _, tt := range []struct {
		expr      string
		pass, not [][]byte
	}{
		// and and or have equal precedence, left to right:
		// (tcp or udp) and port 53.
		{"tcp or udp and port 53", [][]byte{dnsUDP, dnsTCP}, [][]byte{ssh, echo}},
		{"icmp or arp and host 10.20.9.9", [][]byte{echoTo, arpFor}, [][]byte{echo, arpOther, ssh}},
		{"tcp[tcpflags] & tcp-syn != 0", [][]byte{ssh, dnsTCP}, [][]byte{dnsUDP, echo}},
		{"tcp port 7096", [][]byte{testFrame("10.0.1.1", "10.0.2.1", 6, 7096, 50000)}, [][]byte{ssh}},
		{"net 10.0.0.0 mask 255.0.255.0", [][]byte{testFrame("10.9.0.7", "192.0.2.1", 1, 0, 0)}, [][]byte{echo}},
		{"host ::1", [][]byte{testFrame("::1", "2001:db8::1", 58, 0, 0)}, [][]byte{testFrame("2001:db8::2", "2001:db8::1", 58, 0, 0), echo}},
		{"net ::/0", [][]byte{testFrame("2001:db8::2", "2001:db8::1", 17, 1, 2)}, [][]byte{echo, arpFor}},
		{"host ::ffff:1.2.3.4", [][]byte{testFrame("::ffff:1.2.3.4", "::1", 6, 1, 2)}, [][]byte{testFrame("1.2.3.4", "10.0.0.1", 6, 1, 2)}},
	} {
		f, err := CompileFilter(tt.expr, LinkEthernet)
		if err != nil {
			t.Errorf("%q: %v", tt.expr, err)
			continue
		}
		for i, fr := range tt.pass {
			if !f.Match(fr) {
				t.Errorf("%q rejects frame %d it must pass", tt.expr, i)
			}
		}
		for i, fr := range tt.not {
			if f.Match(fr) {
				t.Errorf("%q passes frame %d it must reject", tt.expr, i)
			}
		}
	}
}

// TestFilterWireLength: a snaplen-60 capture keeps 60 bytes of longer
// frames; less and greater judge the length on the wire.
func TestFilterWireLength(t *testing.T) {
	set, err := NewFilterSet("less 60")
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 60)
	for _, tt := range []struct {
		wire int
		want bool
	}{{60, true}, {59, true}, {61, false}, {1514, false}} {
		if ok, err := set.Match(Frame{LinkType: LinkEthernet, Data: big[:min(60, tt.wire)], Len: tt.wire}); err != nil || ok != tt.want {
			t.Errorf("less 60, 60 bytes kept of %d: %v %v, want %v", tt.wire, ok, err, tt.want)
		}
	}
	g, _ := CompileFilter("greater 100 and len >= 1000", LinkEthernet)
	if !g.MatchLen(big, 1500) || g.MatchLen(big, 999) {
		t.Error("greater/len do not judge the wire length")
	}
}

// TestFilterErrorsName: what is wrong, in one line.
func TestFilterErrorsName(t *testing.T) {
	for _, tt := range []struct{ expr, want string }{
		{"bogus", "unknown filter keyword 'bogus'"},
		{"tcp and frobnicate", "unknown filter keyword 'frobnicate'"},
		{"net 10.0.0.1 mask 255.0.0.0", "non-network bits set"},
		{"net 10.0.0.1/8", "non-network bits set"},
		{"vlan 5000", "VLAN tag 5000 greater than maximum 4095"},
		{"decnet host 1.2", "'decnet' is not supported by nsdump"},
		{"host example.com", "nsdump does not resolve host names"},
		{strings.Repeat("(", 2000) + "ip" + strings.Repeat(")", 2000), "nested deeper than"},
		{"len / 0 > 1", "division by zero"},
	} {
		_, err := CompileFilter(tt.expr, LinkEthernet)
		if !errors.Is(err, ErrFilter) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%.40q: %v, want one line with %q", tt.expr, err, tt.want)
		}
	}
	if _, err := CompileFilter("bogus", LinkEthernet); !errors.Is(err, ErrUnknownKeyword) {
		t.Errorf("bogus: %v is not ErrUnknownKeyword", err)
	}
}

// TestFilterEncapsulations: vlan, mpls and pppoes shift what follows.
func TestFilterEncapsulations(t *testing.T) {
	ip := testFrame("10.0.1.1", "10.0.2.1", 17, 1, 53)
	tagged := append(append(append([]byte{}, ip[:12]...), 0x81, 0x00, 0x00, 0x64), ip[12:]...) // VLAN 100
	for _, tt := range []struct {
		expr   string
		plain  bool
		tagged bool
	}{
		{"vlan", false, true}, {"vlan 100", false, true}, {"vlan 101", false, false},
		{"vlan and udp port 53", false, true}, {"udp port 53", true, false}, {"ip and vlan", false, false},
	} {
		f, err := CompileFilter(tt.expr, LinkEthernet)
		if err != nil {
			t.Fatalf("%q: %v", tt.expr, err)
		}
		if f.Match(ip) != tt.plain || f.Match(tagged) != tt.tagged {
			t.Errorf("%q: untagged %v tagged %v, want %v %v", tt.expr, f.Match(ip), f.Match(tagged), tt.plain, tt.tagged)
		}
	}
}

// TestFilterLimits: huge inputs end in a result or a one-line error,
// never in a stack overflow, and within bounded memory.
func TestFilterLimits(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := CompileFilter(strings.Repeat("! ", 150000)+"ip", LinkEthernet)
	runtime.ReadMemStats(&after)
	if err != nil || !f.Match(testFrame("10.0.0.1", "10.0.0.2", 1, 0, 0)) {
		t.Fatalf("150,000 ! before ip: %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("150,000 ! before ip allocate %d MiB", alloc>>20)
	}
	f, err = CompileFilter(strings.Repeat("!", 300001)+"ip", LinkEthernet)
	if err != nil || f.Match(testFrame("10.0.0.1", "10.0.0.2", 1, 0, 0)) {
		t.Fatalf("300,001 ! before ip: %v, or it passes IP", err)
	}
	hosts := make([]string, 3000)
	for i := range hosts {
		hosts[i] = "host 10.1." + itoa(i/250) + "." + itoa(i%250+1)
	}
	f, err = CompileFilter(strings.Join(hosts, " or "), LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if f.FitsKernel() || !f.Match(testFrame("10.0.0.1", "10.1.11.250", 1, 0, 0)) || f.Match(testFrame("10.0.0.1", "10.1.12.250", 1, 0, 0)) {
		t.Errorf("3,000 hosts: %d instructions, fits the kernel %v", len(f.Prog), f.FitsKernel())
	}
	for _, expr := range []string{
		strings.Repeat("(", 100000) + "ip",
		strings.Repeat("ip and tcp or ", 20000) + "ip",
		"len > " + strings.Repeat("1 + ", 20000) + "1",
		"len > " + strings.Repeat("(1 + ", 20000) + "1",
		strings.Repeat("x", maxExprLen+1),
	} {
		if _, err := CompileFilter(expr, LinkEthernet); err != nil && (!errors.Is(err, ErrFilter) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%.30q...: %v", expr, err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func BenchmarkCompile3000Hosts(b *testing.B) {
	hosts := make([]string, 3000)
	for i := range hosts {
		hosts[i] = "host 10.1." + itoa(i/250) + "." + itoa(i%250+1)
	}
	expr := strings.Join(hosts, " or ")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := CompileFilter(expr, LinkEthernet); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile300kNots(b *testing.B) {
	expr := strings.Repeat("! ", 300000) + "ip"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := CompileFilter(expr, LinkEthernet); err != nil {
			b.Fatal(err)
		}
	}
}
