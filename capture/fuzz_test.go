package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFiles adds nsdump's recorded captures and the peer corpus as seeds.
func seedFiles(f *testing.F, pattern string) {
	for _, dir := range []string{"../testdata/pcaps", "../testdata/peer/*", "../testdata/peer/*/*"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
}

// readAll reads a capture to its end; it must stop with io.EOF or a
// FormatError, never panic, and return frames no longer than the limit.
func readAll(t *testing.T, b []byte) {
	r, err := NewReader(bytes.NewReader(b))
	for i := 0; err == nil && i < 10000; i++ {
		var fr Frame
		fr, err = r.Next()
		if err == nil && (len(fr.Data) > MaxSnapLen || fr.Point < 0 || fr.Point >= len(r.Points())) {
			t.Fatalf("frame %d: %d bytes, point %d of %d", i, len(fr.Data), fr.Point, len(r.Points()))
		}
	}
	var fe *FormatError
	if err != nil && !errors.Is(err, io.EOF) && !errors.As(err, &fe) {
		t.Fatalf("error %T %v is neither io.EOF nor a FormatError", err, err)
	}
}

func FuzzPcapReader(f *testing.F) {
	seedFiles(f, "*.pcap")
	f.Add(pcapHeader(65535, 1))
	f.Fuzz(readAll)
}

func FuzzPcapngReader(f *testing.F) {
	seedFiles(f, "*.pcapng")
	f.Add(append(shb(), idb(0xff)...))
	f.Fuzz(readAll)
}

func FuzzFilter(f *testing.F) {
	for _, e := range filterExprs {
		f.Add(e)
	}
	g := newExprGen(1)
	for i := 0; i < 200; i++ {
		g.reset()
		f.Add(g.expr(3))
	}
	frame := testFrame("10.0.1.1", "10.0.2.1", 6, 40000, 22)
	f.Fuzz(func(t *testing.T, expr string) {
		for _, lt := range []LinkType{LinkEthernet, LinkSLL, LinkRaw} {
			flt, err := CompileFilter(expr, lt)
			if err != nil {
				if !errors.Is(err, ErrFilter) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("CompileFilter(%q): %q is not a one-line ErrFilter", expr, err)
				}
				continue
			}
			for n := 0; n <= len(frame); n += 7 {
				flt.MatchLen(frame[:n], len(frame))
			}
			flt.Match(nil)
		}
	})
}
