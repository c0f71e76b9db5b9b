package capture

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// callRecorder keeps every write call apart.
type callRecorder struct{ calls [][]byte }

func (c *callRecorder) Write(p []byte) (int, error) {
	c.calls = append(c.calls, append([]byte(nil), p...))
	return len(p), nil
}

// ngBlocks splits b into pcapng blocks; ok is false if b does not end on a
// block boundary.
func ngBlocks(b []byte) (n int, ok bool) {
	for len(b) >= 12 {
		total := int(binary.LittleEndian.Uint32(b[4:]))
		if total < 12 || total > len(b) || binary.LittleEndian.Uint32(b[total-4:]) != uint32(total) {
			return n, false
		}
		b, n = b[total:], n+1
	}
	return n, len(b) == 0
}

// TestWritesAreWholeBlocks: every write call of the pcapng writer holds
// whole blocks, with a flush per batch as capture does and across the
// 256 KiB buffer limit, so that a process killed between two calls leaves
// a file that ends on a block boundary.
func TestWritesAreWholeBlocks(t *testing.T) {
	var rec callRecorder
	points := []Point{{Name: "a/b", LinkType: LinkEthernet, SnapLen: MaxSnapLen}}
	w, err := NewNgWriter(&rec, points, "")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0)
	blocks := 2 // SHB, IDB
	for batch := 0; batch < 20; batch++ {
		for i := 0; i < 37; i++ {
			size := 60 + (batch*37+i)*97%9000
			if err := w.WriteFrame(Frame{Time: ts, Data: bytes.Repeat([]byte{byte(i)}, size), Len: size, Dir: DirIn}, ""); err != nil {
				t.Fatal(err)
			}
			blocks++
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for i, c := range rec.calls {
		n, ok := ngBlocks(c)
		if !ok {
			t.Fatalf("write call %d (%d bytes) does not hold whole blocks", i, len(c))
		}
		if len(c) > flushAt+9100 {
			t.Errorf("write call %d is %d bytes, past the buffer limit", i, len(c))
		}
		total += n
	}
	if total != blocks {
		t.Fatalf("%d blocks written, want %d", total, blocks)
	}
	if len(rec.calls) < 20 {
		t.Fatalf("%d write calls for 20 flushed batches", len(rec.calls))
	}
}

// TestSnapLenCutsFrames: -s 60 in pcap and pcapng stores 60 bytes of a
// longer frame and its original length, and records 60 as the snap
// length; tcpdump and tshark read the files back.
func TestSnapLenCutsFrames(t *testing.T) {
	frame := make([]byte, 542)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	copy(frame[14:], []byte{0x45, 0, 0x02, 0x10, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	dir := t.TempDir()
	for _, name := range []string{"s.pcap", "s.pcapng"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			var w FrameWriter
			if strings.HasSuffix(name, ".pcap") {
				w, err = NewPcapWriter(f, LinkEthernet, 60)
			} else {
				w, err = NewNgWriter(f, []Point{{Name: "a/b", LinkType: LinkEthernet, SnapLen: 60}}, "")
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if err := w.WriteFrame(Frame{Time: time.Unix(1700000000+int64(i), 0), Data: frame, Len: len(frame), Dir: DirOut}, ""); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			raw, _ := os.ReadFile(path)
			r, err := NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				got, err := r.Next()
				if err != nil || len(got.Data) != 60 || got.Len != 542 {
					t.Fatalf("frame %d: %d bytes of %d (%v), want 60 of 542", i, len(got.Data), got.Len, err)
				}
			}
			if p := r.Points(); len(p) != 1 || p[0].SnapLen != 60 {
				t.Fatalf("points %+v, want snap length 60", p)
			}
			out, err := exec.Command("tcpdump", "-r", path, "-nn", "-e").CombinedOutput()
			if err != nil || strings.Count(string(out), "length 542") != 3 {
				t.Fatalf("tcpdump -r: %v\n%s", err, out)
			}
			out, err = exec.Command("tshark", "-r", path, "-T", "fields", "-e", "frame.cap_len", "-e", "frame.len").Output()
			if err != nil || strings.TrimSpace(string(out)) != "60\t542\n60\t542\n60\t542" {
				t.Fatalf("tshark -r: %v\n%s", err, out)
			}
		})
	}
}
