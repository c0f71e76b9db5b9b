// Command genpcap writes a synthetic Ethernet pcap of N packets for the
// read benchmarks. -mode mix (the default): TCP connections (handshake,
// data both ways, FIN), ICMP echo pairs and ARP resolutions between a few
// hundred hosts, in the proportions of a busy lab. The memory benchmarks
// (scripts/bench-read-mem.sh): -mode syn, N SYNs that nothing answers, each
// its own attempt; -mode echo, N echo requests that nothing answers; -mode
// flow, one TCP connection of N packets. Issue 22's adversarial shapes:
// -mode synpacked and echopacked, the same floods packed within one second
// of capture time (so no exchange goes idle: only --max-open bounds them);
// -mode short, N packets of short TCP connections (handshake, FIN both
// ways), each on its own 4-tuple, packed as tightly; -mode ifaces, a pcapng
// file of N interface description blocks, one packet on the last.
// Usage: go run ./scripts/genpcap -n 5000000 -o big.pcap [-mode mix|syn|echo|flow|synpacked|echopacked|short|ifaces]
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nsdump/nsdump/capture"
)

func main() {
	n := flag.Int("n", 5_000_000, "packets")
	out := flag.String("o", "big.pcap", "output file")
	mode := flag.String("mode", "mix", "mix, syn, echo, flow, synpacked, echopacked, short or ifaces")
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genpcap:", err)
		os.Exit(2)
	}
	if *mode == "ifaces" {
		writeIfaces(f, *n)
		return
	}
	w, _ := capture.NewPcapWriter(f, capture.LinkEthernet, 262144)
	g := &gen{w: w, t: time.Unix(1_700_000_000, 0), step: 7 * time.Microsecond}
	switch *mode {
	case "synpacked":
		g.step = time.Second / time.Duration(max(*n, 1))
		g.floodSYN(*n)
	case "echopacked":
		g.step = time.Second / time.Duration(max(*n, 1))
		g.floodEcho(*n)
	case "short":
		g.step = time.Second / time.Duration(max(*n, 1))
		g.short(*n)
	case "mix":
		g.mix(*n)
	case "syn":
		g.floodSYN(*n)
	case "echo":
		g.floodEcho(*n)
	case "flow":
		g.flow(*n)
	default:
		fmt.Fprintf(os.Stderr, "genpcap: unknown -mode %q (mix, syn, echo or flow)\n", *mode)
		os.Exit(2)
	}
	if err := w.Flush(); err != nil || f.Close() != nil {
		fmt.Fprintln(os.Stderr, "genpcap: write failed")
		os.Exit(2)
	}
}

func (g *gen) mix(n int) {
	for i := 0; g.count < n; i++ {
		// A few hundred hosts talking over many connections: tcpdump keeps
		// every address it prints in a fixed-size hash table, so a file with
		// a million hosts would measure that table instead of the reading.
		a := [4]byte{10, 1, 0, byte(1 + i%250)}
		b := [4]byte{10, 2, 0, byte(1 + i%249)}
		switch i % 4 {
		case 0, 1:
			g.tcp(a, b, uint16(1024+i%60000), 7096)
		case 2:
			g.echo(a, b, uint16(i), 3)
		case 3:
			g.arp(a, b)
		}
	}
}

// host is the i-th of 2^24 addresses in 10.0.0.0/8.
func host(i int) [4]byte { return [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)} }

// floodSYN: n SYNs from n different 4-tuples, none answered.
func (g *gen) floodSYN(n int) {
	dst := [4]byte{192, 168, 0, 1}
	for i := 0; i < n; i++ {
		g.seg(host(i/50000+1), dst, uint16(1024+i%50000), 7096, uint32(i), 0, 0x02, 0)
	}
}

// floodEcho: n echo requests, each its own id and seq, none answered.
func (g *gen) floodEcho(n int) {
	dst := [4]byte{192, 168, 0, 1}
	for i := 0; i < n; i++ {
		g.echoOne(host(i>>16+1), dst, 8, uint16(i), uint16(i>>16))
	}
}

// flow: one TCP connection of n packets, data both ways.
func (g *gen) flow(n int) {
	a, b := [4]byte{10, 1, 0, 1}, [4]byte{10, 2, 0, 1}
	g.seg(a, b, 40000, 7096, 1000, 0, 0x02, 0)
	g.seg(b, a, 7096, 40000, 5000, 1001, 0x12, 0)
	g.seg(a, b, 40000, 7096, 1001, 5001, 0x10, 0)
	seqA, seqB := uint32(1001), uint32(5001)
	for g.count < n-3 {
		g.seg(a, b, 40000, 7096, seqA, seqB, 0x18, 100)
		seqA += 100
		g.seg(b, a, 7096, 40000, seqB, seqA, 0x10, 0)
	}
	g.seg(a, b, 40000, 7096, seqA, seqB, 0x11, 0)
	g.seg(b, a, 7096, 40000, seqB, seqA+1, 0x11, 0)
	g.seg(a, b, 40000, 7096, seqA+1, seqB+1, 0x10, 0)
}

type gen struct {
	w     *capture.PcapWriter
	t     time.Time
	step  time.Duration // between packets
	count int
	buf   []byte
}

// short: n packets of six-packet TCP connections, each its own 4-tuple.
func (g *gen) short(n int) {
	dst := [4]byte{192, 168, 0, 1}
	for i := 0; g.count < n; i++ {
		a, sp := host(i/50000+1), uint16(1024+i%50000)
		g.seg(a, dst, sp, 7096, 1000, 0, 0x02, 0)
		g.seg(dst, a, 7096, sp, 5000, 1001, 0x12, 0)
		g.seg(a, dst, sp, 7096, 1001, 5001, 0x10, 0)
		g.seg(a, dst, sp, 7096, 1001, 5001, 0x11, 0)
		g.seg(dst, a, 7096, sp, 5001, 1002, 0x11, 0)
		g.seg(a, dst, sp, 7096, 1002, 5002, 0x10, 0)
	}
}

// writeIfaces writes a pcapng file declaring n interfaces, each its own
// name, and one echo request on the last.
func writeIfaces(f *os.File, n int) {
	points := make([]capture.Point, n)
	for i := range points {
		points[i] = capture.Point{Name: fmt.Sprintf("if%d", i), LinkType: capture.LinkEthernet, SnapLen: 262144}
	}
	w, err := capture.NewNgWriter(f, points, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "genpcap:", err)
		os.Exit(2)
	}
	frame := ipv4(nil, 1, host(1), host(2), 8)
	frame = append(frame, 8, 0, 0, 0, 0, 1, 0, 1)
	w.WriteFrame(capture.Frame{Time: time.Unix(1_700_000_000, 0), Point: n - 1, Len: len(frame), Data: frame}, "")
	if err := w.Flush(); err != nil || f.Close() != nil {
		fmt.Fprintln(os.Stderr, "genpcap: write failed")
		os.Exit(2)
	}
}

func (g *gen) emit(frame []byte) {
	g.t = g.t.Add(g.step)
	g.w.WriteFrame(capture.Frame{Time: g.t, Len: len(frame), Data: frame}, "")
	g.count++
}

func eth(b []byte, etherType uint16) []byte {
	b = append(b[:0], 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1)
	return binary.BigEndian.AppendUint16(b, etherType)
}

func ipv4(b []byte, proto byte, src, dst [4]byte, payload int) []byte {
	b = eth(b, 0x0800)
	b = append(b, 0x45, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(20+payload))
	b = append(b, 0, 0, 0x40, 0, 64, proto, 0, 0)
	b = append(b, src[:]...)
	return append(b, dst[:]...)
}

func (g *gen) seg(src, dst [4]byte, sp, dp uint16, seq, ack uint32, flags byte, data int) {
	f := ipv4(g.buf, 6, src, dst, 20+data)
	f = binary.BigEndian.AppendUint16(f, sp)
	f = binary.BigEndian.AppendUint16(f, dp)
	f = binary.BigEndian.AppendUint32(f, seq)
	f = binary.BigEndian.AppendUint32(f, ack)
	f = append(f, 0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0)
	f = append(f, make([]byte, data)...)
	g.buf = f
	g.emit(f)
}

func (g *gen) tcp(a, b [4]byte, sport, dport uint16) {
	seg := g.seg
	seg(a, b, sport, dport, 1000, 0, 0x02, 0)
	seg(b, a, dport, sport, 5000, 1001, 0x12, 0)
	seg(a, b, sport, dport, 1001, 5001, 0x10, 0)
	seg(a, b, sport, dport, 1001, 5001, 0x18, 100)
	seg(b, a, dport, sport, 5001, 1101, 0x18, 300)
	seg(a, b, sport, dport, 1101, 5301, 0x11, 0)
	seg(b, a, dport, sport, 5301, 1102, 0x11, 0)
	seg(a, b, sport, dport, 1102, 5302, 0x10, 0)
}

func (g *gen) echo(a, b [4]byte, id uint16, count int) {
	for seq := 1; seq <= count; seq++ {
		g.echoOne(a, b, 8, id, uint16(seq))
		g.echoOne(b, a, 0, id, uint16(seq))
	}
}

func (g *gen) echoOne(src, dst [4]byte, typ byte, id, seq uint16) {
	f := ipv4(g.buf, 1, src, dst, 64)
	f = append(f, typ, 0, 0, 0)
	f = binary.BigEndian.AppendUint16(f, id)
	f = binary.BigEndian.AppendUint16(f, seq)
	f = append(f, make([]byte, 56)...)
	g.buf = f
	g.emit(f)
}

func (g *gen) arp(a, b [4]byte) {
	for op := uint16(1); op <= 2; op++ {
		f := eth(g.buf, 0x0806)
		f = append(f, 0, 1, 8, 0, 6, 4)
		f = binary.BigEndian.AppendUint16(f, op)
		sender, target := a, b
		if op == 2 {
			sender, target = b, a
		}
		f = append(f, 2, 0, 0, 0, 0, 1)
		f = append(f, sender[:]...)
		f = append(f, 0, 0, 0, 0, 0, 0)
		f = append(f, target[:]...)
		g.buf = f
		g.emit(f)
	}
}
