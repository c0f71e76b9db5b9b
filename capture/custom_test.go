package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// customFile is a pcapng file of n frames with a Custom Block of data
// between the first frame and the rest, and another at the end.
func customFile(t *testing.T, n int, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, []Point{{Name: "ns0/veth0", LinkType: LinkEthernet, SnapLen: 262144}}, "comment")
	if err != nil {
		t.Fatal(err)
	}
	frame := func(i int) Frame {
		// An Ethernet frame with an unknown ethertype: any reader lists it.
		d := append(bytes.Repeat([]byte{2}, 12), 0x88, 0xb5)
		return Frame{Time: time.Unix(1700000000, int64(i)), Dir: DirOut, Len: 60, Data: append(d, bytes.Repeat([]byte{byte(i)}, 46)...)}
	}
	for i := range n {
		if err := w.WriteFrame(frame(i), ""); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := w.WriteCustom(32473, data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.WriteCustom(32473, []byte("end")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCustomBlockRoundTrip: a Custom Block of a few hundred KB (more than
// an option's 65535 bytes) reads back whole, padded to 4 bytes, and the
// frames around it are all there.
func TestCustomBlockRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte(`{"x":1}`), 50000) // 350,000 bytes
	r, err := NewReader(bytes.NewReader(customFile(t, 5, data)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Errorf("read %d frames, want 5", n)
	}
	c := r.Custom()
	if len(c) != 2 || c[0].PEN != 32473 || !bytes.Equal(c[0].Data, data) || c[0].Size != len(data) {
		t.Fatalf("custom blocks: %d, first PEN %d, %d bytes", len(c), c[0].PEN, len(c[0].Data))
	}
	if !bytes.Equal(c[1].Data, []byte("end\x00")) {
		t.Errorf("second block %q, want \"end\" padded to 4 bytes", c[1].Data)
	}
}

// TestCustomBlockBounds: a file of many Custom Blocks, one too short for
// its PEN, and more data than MaxCustom in all, costs no more than
// MaxCustom bytes and 16 entries, and no packet.
func TestCustomBlockBounds(t *testing.T) {
	file := append(shb(), idb(6)...)
	custom := func(n int) []byte {
		body := make([]byte, 4+n)
		body[0] = 1
		return ngBlock(ngCustomNoCopy, body, uint32(12+len(body)))
	}
	file = append(file, ngBlock(ngCustom, nil, 12)...) // no room for the PEN
	file = append(file, custom(MaxCustom-8)...)
	file = append(file, custom(12)...) // over the budget: listed, not kept
	for range 30 {
		file = append(file, custom(0)...)
	}
	file = append(file, epb(1, make([]byte, 60))...)
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatalf("the packet after the custom blocks: %v", err)
	}
	c := r.Custom()
	if len(c) != maxCustomBlocks {
		t.Fatalf("%d custom blocks listed, want %d", len(c), maxCustomBlocks)
	}
	if len(c[0].Data) != MaxCustom-8 || c[1].Data != nil || c[1].Size != 12 || c[0].PEN != 1 {
		t.Errorf("first %d bytes (PEN %d), second %d bytes of %d; want %d, then none of 12", len(c[0].Data), c[0].PEN, len(c[1].Data), c[1].Size, MaxCustom-8)
	}
	if err := (&NgWriter{}).WriteCustom(1, make([]byte, MaxCustom+1)); err == nil {
		t.Error("a custom block larger than a block can be was written")
	}
}

// TestCustomBlockReaders: tshark and tcpdump (libpcap) read a file with
// Custom Blocks of an enterprise number they do not know without a word
// on standard error, and list every packet. libpcap skips the blocks;
// tshark (4.0) lists each as a record of its own, "Custom Block: PEN =
// ...", numbered among the packets.
func TestCustomBlockReaders(t *testing.T) {
	name := filepath.Join(t.TempDir(), "custom.pcapng")
	if err := os.WriteFile(name, customFile(t, 7, bytes.Repeat([]byte("facts "), 60000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []struct {
		name   string
		args   []string
		custom int
	}{{"tshark", []string{"-r", name}, 2}, {"tcpdump", []string{"-nn", "-r", name}, 0}} {
		t.Run(tool.name, func(t *testing.T) {
			if _, err := exec.LookPath(tool.name); err != nil {
				t.Skipf("%s is not installed", tool.name)
			}
			cmd := exec.Command(tool.name, tool.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			// tcpdump says where it reads from, tshark that it runs as root;
			// nothing else may be on stderr.
			rest := stderr.String()
			for _, said := range []string{"reading from file " + name + ", link-type EN10MB (Ethernet), snapshot length 262144",
				`Running as user "root" and group "root". This could be dangerous.`} {
				rest = strings.ReplaceAll(rest, said, "")
			}
			if err != nil || strings.TrimSpace(rest) != "" {
				t.Fatalf("%s: %v, stderr %q", tool.name, err, stderr.String())
			}
			packets, custom := 0, 0
			for _, l := range strings.Split(stdout.String(), "\n") {
				switch {
				case strings.Contains(l, "Custom Block: PEN = Example Enterprise Number for Documentation Use (32473)"):
					custom++
				case l != "" && l[0] != ' ' && l[0] != '\t' || strings.Contains(l, "0x88b5"):
					packets++ // tcpdump indents the hex under an unknown ethertype; tshark its rows
				}
			}
			if packets != 7 || custom != tool.custom {
				t.Errorf("%s listed %d packets and %d custom blocks, want 7 and %d:\n%s", tool.name, packets, custom, tool.custom, stdout.String())
			}
		})
	}
}
