package capture

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPacketIDRoundTrip: epb_packetid and if_description written by
// NgWriter come back from Reader as written, and tshark reads them as
// frame.packet_id and frame.interface_description; a frame without an id
// has none.
func TestPacketIDRoundTrip(t *testing.T) {
	frame := make([]byte, 60)
	copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	points := []Point{
		{Name: "a/veth0", Description: "network namespace a (inode 4026532001); veth, peer b/veth1", LinkType: LinkEthernet, SnapLen: MaxSnapLen},
		{Name: "b/veth1", Description: "network namespace b (inode 4026532002)", LinkType: LinkEthernet, SnapLen: MaxSnapLen},
	}
	ids := []uint64{7, 7, 0, 1 << 40}
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, points, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		f := Frame{Time: time.Unix(1700000000, int64(i)), Point: i % 2, Data: frame, Len: len(frame), Dir: DirOut, PacketID: id}
		if err := w.WriteFrame(f, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range ids {
		f, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.PacketID != want || f.Dir != DirOut {
			t.Errorf("frame %d: id %d, dir %v; want %d, Out", i, f.PacketID, f.Dir, want)
		}
	}
	for i, p := range r.Points() {
		if p.Description != points[i].Description {
			t.Errorf("point %d: description %q, want %q", i, p.Description, points[i].Description)
		}
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	path := filepath.Join(t.TempDir(), "ids.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("tshark", "-r", path, "-T", "fields", "-E", "separator=|", "-e", "frame.packet_id", "-e", "frame.interface_description")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	rest := strings.ReplaceAll(stderr.String(), `Running as user "root" and group "root". This could be dangerous.`, "")
	if err != nil || strings.TrimSpace(rest) != "" {
		t.Fatalf("tshark: %v: %s", err, stderr.String())
	}
	want := "7|" + points[0].Description + "\n7|" + points[1].Description + "\n|" + points[0].Description + "\n1099511627776|" + points[1].Description + "\n"
	if got := strings.ReplaceAll(string(out), "\r", ""); got != want {
		t.Errorf("tshark reads\n%s\nwant\n%s", got, want)
	}
}
