package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// TestReadFilterWireLength: in a file captured with a snap length of 60,
// "less 60" and "greater 61" judge each packet by its length on the wire,
// as tcpdump does, and "tcp or udp and port 53" leaves an SSH exchange out.
func TestReadFilterWireLength(t *testing.T) {
	name := filepath.Join(t.TempDir(), "snap60.pcap")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := capture.NewPcapWriter(f, capture.LinkEthernet, 60)
	if err != nil {
		t.Fatal(err)
	}
	ssh := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0,
		10, 0, 1, 1, 10, 0, 2, 1, 0x9c, 0x40, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0}
	for i, wire := range []int{54, 54, 120, 1514, 60} {
		data := append([]byte{}, ssh...)
		data = append(data, make([]byte, min(wire, 60)-len(data))...)
		fr := capture.Frame{Time: time.Unix(int64(i), 0), LinkType: capture.LinkEthernet, Data: data, Len: wire}
		if err := w.WriteFrame(fr, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tt := range []struct {
		expr string
		want int
	}{{"less 60", 3}, {"greater 61", 2}, {"tcp or udp and port 53", 0}, {"tcp and port 22", 5}} {
		out, e, code := nsdump("read", "--json", name, tt.expr)
		var doc struct{ Packets int }
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc.Packets != tt.want {
			t.Errorf("read %q: exit %d, %d packets, want %d\n%s%s", tt.expr, code, doc.Packets, tt.want, out, e)
		}
	}
}
