package main

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// floodFile writes a pcap of n packets of one of scripts/bench-read-mem.sh's
// flood shapes, packed within a second as synpacked and echopacked are:
// every packet opens an exchange nothing answers, and only --max-open
// finishes them.
func floodFile(tb testing.TB, shape string, n int) string {
	tb.Helper()
	name := filepath.Join(tb.TempDir(), shape+".pcap")
	f, err := os.Create(name)
	if err != nil {
		tb.Fatal(err)
	}
	w, _ := capture.NewPcapWriter(f, capture.LinkEthernet, 262144)
	start := time.Unix(1_700_000_000, 0)
	var b []byte
	for i := 0; i < n; i++ {
		src := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		b = append(b[:0], 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0)
		proto, size := byte(6), 20
		if shape == "echo" {
			proto, size = 1, 64
		}
		b = append(b, 0x45, 0, 0, byte(20+size), 0, 0, 0x40, 0, 64, proto, 0, 0)
		b = append(b, src[:]...)
		b = append(b, 192, 168, 0, 1)
		if shape == "echo" {
			b = append(b, 8, 0, 0, 0)
			b = binary.BigEndian.AppendUint16(b, uint16(i))
			b = binary.BigEndian.AppendUint16(b, uint16(i>>16))
			b = append(b, make([]byte, 56)...)
		} else {
			b = binary.BigEndian.AppendUint16(b, uint16(1024+i%50000))
			b = append(b, 0x1b, 0xb8)
			b = binary.BigEndian.AppendUint32(b, uint32(i))
			b = append(b, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0)
		}
		t := start.Add(time.Duration(i) * time.Second / time.Duration(n))
		if err := w.WriteFrame(capture.Frame{Time: t, Len: len(b), Data: b}, ""); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil || f.Close() != nil {
		tb.Fatal("write", name)
	}
	return name
}

// BenchmarkReadFlood: the whole of `nsdump read` and `read --json` on a
// flood of unanswered SYNs or echo requests, per packet: the shapes on which
// scripts/bench-read-mem.sh holds read to tcpdump's time.
func BenchmarkReadFlood(b *testing.B) {
	const n = 200_000
	for _, shape := range []string{"syn", "echo"} {
		file := floodFile(b, shape, n)
		for _, form := range []string{"text", "json"} {
			b.Run(shape+"/"+form, func(b *testing.B) {
				args := []string{"read", file}
				if form == "json" {
					args = append(args, "--json")
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := run(context.Background(), args, io.Discard, io.Discard); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/packet")
			})
		}
	}
}
