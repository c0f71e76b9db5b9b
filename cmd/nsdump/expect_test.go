package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/nsdump/nsdump/capture"
)

// writeRegression crafts a small capture: 3 answered echoes, 1 unanswered,
// one established connection to 10.9.2.1:22, one refused attempt to
// 10.9.2.1:7096, an ARP answered.
func writeRegression(t *testing.T) string {
	name := filepath.Join(t.TempDir(), "regression.pcapng")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := newCrafted(t, f, "")
	ms := time.Millisecond
	echo := func(toB bool, typ uint8, seq uint16) []byte {
		e, ip := ether(macA, macB, layers.EthernetTypeIPv4), ip4(ipA, ipB, layers.IPProtocolICMPv4)
		if !toB {
			e, ip = ether(macB, macA, layers.EthernetTypeIPv4), ip4(ipB, ipA, layers.IPProtocolICMPv4)
		}
		return serialize(t, e, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 9, Seq: seq}, gopacket.Payload("ping"))
	}
	for seq := uint16(1); seq <= 3; seq++ {
		c.put(100*ms, echo(true, 8, seq), "")
		c.put(ms, echo(false, 0, seq), "")
	}
	c.put(100*ms, echo(true, 8, 4), "never answered")
	c.put(ms, seg(t, true, 40000, 22, 1, 0, "S", 0), "")
	c.put(ms, seg(t, false, 40000, 22, 50, 2, "SA", 0), "")
	c.put(ms, seg(t, true, 40000, 22, 2, 51, "A", 0), "")
	c.put(ms, seg(t, true, 40001, 7096, 1, 0, "S", 0), "")
	c.put(ms, seg(t, false, 40001, 7096, 0, 2, "RA", 0), "")
	arp := func(op uint16) []byte {
		a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: op, SourceHwAddress: macA, SourceProtAddress: ipA, DstHwAddress: make([]byte, 6), DstProtAddress: ipB}
		if op == 2 {
			a.SourceHwAddress, a.SourceProtAddress, a.DstHwAddress, a.DstProtAddress = macB, ipB, macA, ipA
			return serialize(t, ether(macB, macA, layers.EthernetTypeARP), a)
		}
		return serialize(t, ether(macA, layers.EthernetBroadcast, layers.EthernetTypeARP), a)
	}
	c.put(ms, arp(1), "")
	c.put(ms, arp(2), "")
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestReadExpect: every operator, selectors, the failing message, exit
// codes, expect files.
func TestReadExpect(t *testing.T) {
	file := writeRegression(t)
	good := filepath.Join(t.TempDir(), "good.expect")
	os.WriteFile(good, []byte("# the lab answers\nicmp-echo:answered==3\n\ntcp:established>=1\n"), 0o644)
	bad := filepath.Join(t.TempDir(), "bad.expect")
	os.WriteFile(bad, []byte("icmp-echo:answered==3\ntcp:establishd>=1\n"), 0o644)
	empty := filepath.Join(t.TempDir(), "empty.expect")
	os.WriteFile(empty, []byte("# nothing\n"), 0o644)
	for _, tt := range []expectRun{
		{[]string{"--expect", "icmp-echo:answered==3"}, 0, ""},
		{[]string{"--expect", "icmp-echo:answered!=2"}, 0, ""},
		{[]string{"--expect", "icmp-echo:unanswered<2"}, 0, ""},
		{[]string{"--expect", "icmp-echo:unanswered<=1"}, 0, ""},
		{[]string{"--expect", "tcp:refused>0"}, 0, ""},
		{[]string{"--expect", "tcp:established>=1"}, 0, ""},
		{[]string{"--expect", "arp:unanswered==0", "--expect", "arp:answered == 1"}, 0, ""},
		{[]string{"--expect", "packets==14", "--expect", "drops==0"}, 0, ""},
		{[]string{"--expect", "tcp[dst=10.9.2.1:7096]:refused==1"}, 0, ""},
		{[]string{"--expect", "tcp[dst=10.9.2.1:22]:refused==0"}, 0, ""},
		{[]string{"--expect", "tcp[src=10.9.1.1,dst=10.9.2.1:22]:established==1"}, 0, ""},
		{[]string{"--expect", "icmp-echo[dst=10.9.2.1]:answered==3"}, 0, ""},
		{[]string{"--expect", "icmp-echo[src=10.9.2.1]:answered==0"}, 0, ""},
		{[]string{"--expect-file", good}, 0, ""},
		// failing: one line each, expected vs got
		{[]string{"--expect", "icmp-echo:answered==4"}, 1, "nsdump: expectation failed: icmp-echo:answered==4: expected == 4, got 3\n"},
		{[]string{"--expect", "icmp-echo:answered!=3"}, 1, "expected != 3, got 3"},
		{[]string{"--expect", "icmp-echo:answered<3"}, 1, "expected < 3, got 3"},
		{[]string{"--expect", "icmp-echo:answered<=2"}, 1, "expected <= 2, got 3"},
		{[]string{"--expect", "icmp-echo:answered>3"}, 1, "expected > 3, got 3"},
		{[]string{"--expect", "icmp-echo:answered>=4"}, 1, "expected >= 4, got 3"},
		{[]string{"--expect", "tcp[dst=10.9.2.1:7096]:refused==0", "--expect", "tcp:refused==1", "--expect", "drops>0"}, 1,
			"nsdump: expectation failed: tcp[dst=10.9.2.1:7096]:refused==0: expected == 0, got 1\nnsdump: expectation failed: drops>0: expected > 0, got 0\n"},
		// bad expressions: exit 2, one line naming it
		{[]string{"--expect", "tcp:establishd>=1"}, 2, `nsdump: bad expectation "tcp:establishd>=1": tcp has no status "establishd"`},
		{[]string{"--expect", "tpc:refused==1"}, 2, `unknown kind "tpc"`},
		{[]string{"--expect", "tcp:refused=1"}, 2, `bad expectation "tcp:refused=1": want KIND:STATUS OP N`},
		{[]string{"--expect", "tcp:refused==-1"}, 2, `bad expectation`},
		{[]string{"--expect", "tcp:refused"}, 2, `bad expectation`},
		{[]string{"--expect", "tcp[port=7]:refused==1"}, 2, `want src=ADDR[:PORT]`},
		{[]string{"--expect", "tcp[dst=10.9.2.300]:refused==1"}, 2, `neither ADDR nor ADDR:PORT`},
		{[]string{"--expect", "tcp[dst=10.9.2.1:refused==1"}, 2, `bad expectation`},
		{[]string{"--expect", "packets"}, 2, `bad expectation "packets"`},
		// issue 22: selectors that could never match
		{[]string{"--expect", "icmp-echo[src=10.9.1.1:5]:unanswered==0"}, 2, `icmp-echo exchanges have no ports`},
		{[]string{"--expect", "arp[dst=10.9.2.1:80]:answered==0"}, 2, `arp exchanges have no ports`},
		{[]string{"--expect", "tcp[src=10.9.1.1,src=10.9.2.1]:refused==0"}, 2, `src= given twice`},
		{[]string{"--expect", "tcp[dst=10.9.1.1:1,dst=10.9.2.1:2]:refused==0"}, 2, `dst= given twice`},
		{[]string{"--expect", "icmp-error[dst=10.9.2.1:53]:error==0"}, 0, ""},
		{[]string{"--expect-file", bad}, 2, "bad.expect:2: bad expectation"},
		{[]string{"--expect-file", empty}, 2, "holds no expectation"},
		{[]string{"--expect-file", "/nonexistent/x"}, 2, "--expect-file"},
	} {
		tt.check(t, file)
	}
}

// TestReadExpectEmpty: no vacuous truth: on an empty capture a count of
// answered echoes is 0 and `>=1` fails; `packets==0` holds.
func TestReadExpectEmpty(t *testing.T) {
	name := filepath.Join(t.TempDir(), "empty.pcapng")
	f, _ := os.Create(name)
	c := newCrafted(t, f, "")
	c.w.Flush()
	f.Close()
	for _, tt := range []expectRun{
		{[]string{"--expect", "icmp-echo:answered>=1"}, 1, "expected >= 1, got 0"},
		{[]string{"--expect", "packets>0"}, 1, "expected > 0, got 0"},
		{[]string{"--expect", "packets==0", "--expect", "tcp:refused==0"}, 0, ""},
	} {
		tt.check(t, name)
	}
}

// TestReadJSONSummary: --json carries the summary, the expectations with
// their results, and src/dst split into address and port.
func TestReadJSONSummary(t *testing.T) {
	file := writeRegression(t)
	out, _, code := nsdump("read", file, "--json", "--expect", "tcp:refused==1", "--expect", "icmp-echo:answered>3")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	var doc struct {
		Packets   int
		Exchanges []struct {
			Kind, Src, Dst string
			SrcAddr        string `json:"src_addr"`
			SrcPort        uint16 `json:"src_port"`
			DstAddr        string `json:"dst_addr"`
			DstPort        uint16 `json:"dst_port"`
		}
		Summary      map[string]int
		Expectations []struct {
			Expr      string
			Want, Got int
			OK        bool
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	want := map[string]int{"icmp-echo:answered": 3, "icmp-echo:unanswered": 1, "tcp:established": 1, "tcp:refused": 1, "arp:answered": 1}
	if len(doc.Summary) != len(want) {
		t.Errorf("summary %v, want %v", doc.Summary, want)
	}
	for k, n := range want {
		if doc.Summary[k] != n {
			t.Errorf("summary %s = %d, want %d", k, doc.Summary[k], n)
		}
	}
	if len(doc.Expectations) != 2 || !doc.Expectations[0].OK || doc.Expectations[1].OK || doc.Expectations[1].Got != 3 {
		t.Errorf("expectations %+v", doc.Expectations)
	}
	found := false
	for _, ex := range doc.Exchanges {
		if ex.Kind == "tcp" && ex.DstPort == 7096 {
			found = ex.SrcAddr == "10.9.1.1" && ex.SrcPort == 40001 && ex.DstAddr == "10.9.2.1" && ex.Dst == "10.9.2.1:7096"
		}
	}
	if !found {
		t.Errorf("no tcp exchange with split ends to 10.9.2.1:7096:\n%s", out)
	}
}

// TestReadFilterSelectsExchanges: a filter keeps whole exchanges; with
// --packets the packet lines are exactly the ones tcpdump prints.
func TestReadFilterSelectsExchanges(t *testing.T) {
	file := writeRegression(t)
	for _, tt := range []struct {
		filter string
		want   []string
		absent string
	}{
		{"icmp[icmptype] == icmp-echo", []string{"4 packets, 4 exchanges: 1 not answered or failed, 3 answered"}, "tcp "},
		{"src host 10.9.1.1", []string{"8 packets, 7 exchanges: 2 not answered or failed, 5 answered"}, "icmp6"},
		// the answers select their exchanges: all but the unanswered echo
		{"src host 10.9.2.1", []string{"6 packets, 6 exchanges: 1 not answered or failed, 5 answered", "established", "refused"}, "seq 4"},
		{"dst port 7096", []string{"1 packet, 1 exchange: 1 not answered or failed, 0 answered", "refused"}, "icmp"},
	} {
		out, e, code := nsdump(append([]string{"read", file}, strings.Fields(tt.filter)...)...)
		if code != 0 {
			t.Fatalf("read %q: exit %d %s", tt.filter, code, e)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("read %q lacks %q:\n%s", tt.filter, w, out)
			}
		}
		if strings.Contains(out, tt.absent) {
			t.Errorf("read %q has %q:\n%s", tt.filter, tt.absent, out)
		}
		if _, err := exec.LookPath("tcpdump"); err != nil {
			continue
		}
		td, err := exec.Command("tcpdump", "-nr", file, tt.filter).Output()
		if err != nil {
			t.Fatalf("tcpdump: %v", err)
		}
		pk, _, _ := nsdump(append([]string{"read", "--packets", file}, strings.Fields(tt.filter)...)...)
		lines := 0
		for _, l := range strings.Split(pk, "\n") {
			if strings.HasPrefix(l, "00:00:") {
				lines++
			}
		}
		if want := strings.Count(string(td), "\n"); lines != want {
			t.Errorf("read --packets %q: %d packet lines, tcpdump %d:\n%s", tt.filter, lines, want, pk)
		}
	}
}

// TestReadExpectDocsExample: docs/read.md's CI example holds on the
// recorded file it names.
func TestReadExpectDocsExample(t *testing.T) {
	for _, tt := range []expectRun{
		{[]string{"--expect-file", "../../testdata/pcaps/refused.expect"}, 0, ""},
		{[]string{"--expect", "icmp-echo[probe=icmp-echo]:answered>=5", "--expect", "tcp:refused==2"}, 1, "nsdump: expectation failed: icmp-echo[probe=icmp-echo]:answered>=5: expected >= 5, got 4\n"},
	} {
		tt.check(t, "../../testdata/pcaps/refused.pcapng")
	}
}

// TestReadExpectDrops: drops counts the packets on a drop monitor's
// capture point (NS/drops), also when the same packet was seen before it
// was dropped.
func TestReadExpectDrops(t *testing.T) {
	name := filepath.Join(t.TempDir(), "drops.pcapng")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	points := []capture.Point{{Name: "rd-a/ra0", LinkType: capture.LinkEthernet, SnapLen: 262144},
		{Name: "rd-b/drops", LinkType: capture.LinkEthernet, SnapLen: 262144}}
	w, err := capture.NewNgWriter(f, points, "")
	if err != nil {
		t.Fatal(err)
	}
	syn := seg(t, true, 40000, 22, 1, 0, "S", 0)
	now := time.Unix(1_767_225_600, 0)
	w.WriteFrame(capture.Frame{Time: now, Point: 0, Dir: capture.DirOut, Len: len(syn), Data: syn}, "")
	w.WriteFrame(capture.Frame{Time: now.Add(time.Millisecond), Point: 1, Len: len(syn), Data: syn}, "drop: NETFILTER_DROP at nft_do_chain (rb0)")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tt := range []expectRun{
		{[]string{"--expect", "drops==1", "--expect", "packets==1", "--expect", "tcp:unanswered==1"}, 0, ""},
		{[]string{"--expect", "drops==0"}, 1, "expected == 0, got 1"},
	} {
		tt.check(t, name)
	}
}
