package decode

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// Frames as hex, with the line tcpdump -n prints for each.
var frames = []struct {
	name, hex, want string
}{
	{
		// IP 10.0.1.0 > 10.0.2.0: ICMP echo request, id 4660, seq 1, length 16
		"echo request",
		"0000000000020000000000010800" + "45000024000040004001245f0a0001000a000200" + "0800e5cb12340001" + "6e73647570696e67",
		"IP 10.0.1.0 > 10.0.2.0: ICMP echo request, id 4660, seq 1",
	},
	{
		// IP 10.0.1.0.40000 > 10.0.2.0.7096: Flags [S], seq 1000, win 32112, length 0
		"tcp syn",
		"0000000000020000000000010800" + "45000028000040004006245a0a0001000a000200" + "9c401bb8000003e80000000050027d7000000000",
		"IP 10.0.1.0.40000 > 10.0.2.0.7096: Flags [S], seq 1000, win 32112, length 0",
	},
	{
		// ARP, Request who-has 10.0.2.0 tell 10.0.1.0, length 28
		"arp request",
		"ffffffffffff0000000000010806" + "0001080006040001000000000001" + "0a000100" + "000000000000" + "0a000200",
		"ARP, Request who-has 10.0.2.0 tell 10.0.1.0",
	},
	{
		// ARP, Reply 10.0.0.2 is-at c2:3c:19:6c:00:01, length 28: hardware
		// type 6 (IEEE 802) over 802.2 SNAP (testdata/peer/zeek/snap-arp.pcapng)
		"arp reply, IEEE 802 hardware",
		"c23d196c0001c23c196c00010024" + "aaaa030000000806" + "0006080006040002c23c196c00010a000002c23d196c00010a000001",
		"ARP, Reply 10.0.0.2 is-at c2:3c:19:6c:00:01",
	},
}

func frameOf(t testing.TB, h string) capture.Frame {
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return capture.Frame{Time: time.Unix(1, 0), LinkType: capture.LinkEthernet, Len: len(b), Data: b}
}

func TestDecodeFrames(t *testing.T) {
	d := NewDecoder()
	for _, f := range frames {
		t.Run(f.name, func(t *testing.T) {
			var p Packet
			d.Decode(frameOf(t, f.hex), &p)
			if got := string(AppendSummary(nil, &p)); !strings.HasPrefix(got, f.want) {
				t.Fatalf("summary %q, want %q", got, f.want)
			}
		})
	}
}

// TestDecodeAllocatesNothing holds the hot path to zero allocations per
// packet once the parser exists.
func TestDecodeAllocatesNothing(t *testing.T) {
	d := NewDecoder()
	var p Packet
	var line []byte
	all := frames
	for _, c := range crafted { // tunnels, extension headers, cut headers
		all = append(all, struct{ name, hex, want string }{c.name, c.hex, c.want})
	}
	for i, f := range all {
		fr := frameOf(t, f.hex)
		if i >= len(frames) {
			fr.LinkType = crafted[i-len(frames)].link
		}
		d.Decode(fr, &p)
		line = AppendLine(line[:0], &p, "ns/if")
		// a printer numbering TCP sequences relative: a connection's
		// bases are kept once, its later packets cost nothing
		pr := NewPrinter(Format{Verbose: 1}, false)
		line = pr.Append(line[:0], &p, "ns/if", fr.Data)
		allocs := testing.AllocsPerRun(200, func() {
			d.Decode(fr, &p)
			line = AppendLine(line[:0], &p, "ns/if")
			line = pr.Append(line[:0], &p, "ns/if", fr.Data)
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per packet, want 0", f.name, allocs)
		}
	}
}

// BenchmarkDecodeCrafted: tunnels, extension headers and cut headers.
func BenchmarkDecodeCrafted(b *testing.B) {
	d := NewDecoder()
	fs := make([]capture.Frame, len(crafted))
	for i, c := range crafted {
		fs[i] = frameOf(b, c.hex)
		fs[i].LinkType = c.link
	}
	var p Packet
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Decode(fs[i%len(fs)], &p)
	}
}

func BenchmarkDecode(b *testing.B) {
	d := NewDecoder()
	fs := make([]capture.Frame, len(frames))
	for i, f := range frames {
		fs[i] = frameOf(b, f.hex)
	}
	var p Packet
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Decode(fs[i%len(fs)], &p)
	}
}

// FuzzDecode: no input panics the decoder or what consumes its packets.
// Decode turns a panic into a malformed packet in production; here that
// recovery is off, so a panic fails the fuzzer instead of hiding.
func FuzzDecode(f *testing.F) {
	for _, fr := range frames {
		b, _ := hex.DecodeString(fr.hex)
		f.Add(b, uint16(capture.LinkEthernet))
	}
	for _, fr := range crafted {
		b, _ := hex.DecodeString(fr.hex)
		f.Add(b, uint16(fr.link))
	}
	recoverPanics = false
	f.Cleanup(func() { recoverPanics = true })
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		d := NewDecoder()
		tr := NewTracker([]capture.Point{{Name: "a/b"}, {Name: "c/d"}})
		pr := NewPrinter(Format{Link: true, Verbose: 2}, false)
		var p Packet
		for i := 0; i < 2; i++ {
			d.Decode(capture.Frame{Time: time.Unix(int64(i), 0), Point: i, LinkType: capture.LinkType(link), Len: len(data), Data: data}, &p)
			tr.Add(&p)
			AppendLine(nil, &p, "a/b")
			AppendPacket(nil, &p, "a/b", data, Format{Link: true, Hex: 1 + i, Verbose: 1})
			AppendPacket(nil, &p, "a/b", data, Format{ASCII: 1 + i})
			pr.Append(nil, &p, "a/b", data)
		}
	})
}

// BenchmarkReadFile: the whole read path, file bytes to emitted exchanges,
// per packet. scripts/bench-read.sh measures the same on 5M packets
// against tcpdump and tshark.
func BenchmarkReadFile(b *testing.B) {
	var buf bytes.Buffer
	w, _ := capture.NewPcapWriter(&buf, capture.LinkEthernet, 262144)
	const n = 30000
	for i := 0; i < n; i++ {
		f := frameOf(b, frames[i%len(frames)].hex)
		f.Time = time.Unix(1, int64(i)*1000)
		w.WriteFrame(f, "")
	}
	w.Flush()
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		t := NewTracker(nil)
		t.Emit = func(*Exchange) {}
		if err := ReadFile(bytes.NewReader(data), t, nil, nil); err != nil {
			b.Fatal(err)
		}
		t.Flush()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/packet")
}

// TestDecodePanics: a panic while decoding becomes a malformed packet in
// production, and reaches the caller when recovery is off, as FuzzDecode
// turns it off, so the fuzzer fails on it.
func TestDecodePanics(t *testing.T) {
	faultHook = func(*Packet) { panic("boom") }
	t.Cleanup(func() { faultHook, recoverPanics = nil, true })
	fr := frameOf(t, frames[0].hex)
	var p Packet
	NewDecoder().Decode(fr, &p)
	if p.Malformed != "decoder fault: boom" {
		t.Fatalf("a recovered panic left Malformed %q", p.Malformed)
	}
	recoverPanics = false
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("with recovery off the panic did not reach the caller: %v", r)
		}
	}()
	NewDecoder().Decode(fr, &p)
	t.Fatal("Decode returned although it panicked")
}
