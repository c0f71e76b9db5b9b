package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestPcapngRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	points := []Point{{Name: "ns0/veth0", Description: "in ns0", LinkType: LinkEthernet, SnapLen: 262144},
		{Name: "ns1/veth1", LinkType: LinkEthernet, SnapLen: 262144}}
	w, err := NewNgWriter(&buf, points, "a section comment")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 123456789)
	frames := []Frame{
		{Time: ts, Point: 0, Dir: DirOut, Len: 60, Data: bytes.Repeat([]byte{1}, 60)},
		{Time: ts.Add(time.Microsecond), Point: 1, Dir: DirIn, Len: 1500, Data: bytes.Repeat([]byte{2}, 61)},
	}
	for _, f := range frames {
		if err := w.WriteFrame(f, "why"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFrame(Frame{Point: 2}, ""); err == nil {
		t.Fatal("a frame of an undeclared capture point was written")
	}
	w.Flush()
	r, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range frames {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !got.Time.Equal(want.Time) || got.Point != want.Point || got.Dir != want.Dir || got.Len != want.Len || !bytes.Equal(got.Data, want.Data) || got.Comment != "why" {
			t.Fatalf("frame %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
	if p := r.Points(); len(p) != 2 || p[0].Name != "ns0/veth0" || p[0].Description != "in ns0" || p[1].Name != "ns1/veth1" {
		t.Fatalf("points: %+v", p)
	}
}

func pcapHeader(snap, link uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, pcapMagicMicro)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint32(b, snap)
	return binary.LittleEndian.AppendUint32(b, link)
}

func ngBlock(typ uint32, body []byte, length uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, length)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, length)
}

func shb() []byte {
	body := binary.LittleEndian.AppendUint32(nil, ngBOM)
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0))
	return ngBlock(ngSHB, body, uint32(12+len(body)))
}

func idb(tsresol byte) []byte {
	body := []byte{1, 0, 0, 0, 0, 0, 4, 0, 9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0}
	return ngBlock(ngIDB, body, uint32(12+len(body)))
}

// namedIDB declares an Ethernet interface named name.
func namedIDB(name string) []byte {
	body := []byte{1, 0, 0, 0, 0, 0, 4, 0, 2, 0}
	body = binary.LittleEndian.AppendUint16(body, uint16(len(name)))
	body = append(body, name...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	body = append(body, 0, 0, 0, 0)
	return ngBlock(ngIDB, body, uint32(12+len(body)))
}

func epb(ts uint64, data []byte) []byte {
	body := binary.LittleEndian.AppendUint32(nil, 0)
	body = binary.LittleEndian.AppendUint32(body, uint32(ts>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(ts))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data)))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(data)))
	body = append(body, data...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	return ngBlock(ngEPB, body, uint32(12+len(body)))
}

// TestHostileHeaders: the header attacks that crash or bloat gopacket
// v1.1.19's readers give an error or a sane frame here, without a large
// allocation.
func TestHostileHeaders(t *testing.T) {
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	rec := binary.LittleEndian.AppendUint64(nil, 0)
	rec = binary.LittleEndian.AppendUint32(rec, 0xFFFFFFFF)
	rec = binary.LittleEndian.AppendUint32(rec, 0xFFFFFFFF)
	tests := []struct {
		name    string
		file    []byte
		wantErr string // "" means the frame reads
	}{
		{"pcap snaplen 0xFFFFFFFF and a record claiming it", join(pcapHeader(0xFFFFFFFF, 1), rec), "bigger than the maximum"},
		{"pcapng if_tsresol 0xff", join(shb(), idb(0xff), epb(1<<40, []byte{1, 2, 3, 4})), ""},
		{"pcapng if_tsresol 0x7f", join(shb(), idb(0x7f), epb(^uint64(0), []byte{1, 2, 3, 4})), ""},
		{"pcapng block of 2 GiB", join(shb(), idb(6), ngBlock(ngEPB, nil, 1<<31)), "exceeds the limit"},
		{"pcapng block length under 12", join(shb(), idb(6), ngBlock(ngEPB, nil, 8)), "less than the minimum 12"},
		{"pcapng block length not a multiple of 4", join(shb(), idb(6), ngBlock(ngEPB, nil, 14)), "not a multiple of 4"},
		{"pcapng packet of an undeclared interface", join(shb(), epb(0, []byte{1})), "declares 0"},
		{"pcapng of more interfaces than MaxInterfaces", join(shb(), bytes.Repeat(idb(6), MaxInterfaces+1), epb(0, []byte{1})), "more than 65536 interfaces"},
		{"pcapng of MaxInterfaces interfaces", join(shb(), bytes.Repeat(idb(6), MaxInterfaces), epb(0, []byte{1})), ""},
		{"pcapng interface name of 4 KiB", join(shb(), namedIDB(strings.Repeat("x", 4096)), epb(0, []byte{1})), "name or description of more than 1024 bytes"},
		{"garbage", []byte("hello, world"), "not a pcap or pcapng file"},
		{"empty", nil, "empty file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ms1, ms2 runtimeMem
			ms1.read()
			r, err := NewReader(bytes.NewReader(tt.file))
			if err == nil {
				_, err = r.Next()
			}
			ms2.read()
			if grew := ms2.total - ms1.total; grew > 100<<20 {
				t.Errorf("reading allocated %d MiB", grew>>20)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				return
			}
			var fe *FormatError
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &fe) {
				t.Fatalf("error %v, want a FormatError containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolutionTime(t *testing.T) {
	tests := []struct {
		res  resolution
		ts   uint64
		want time.Time
	}{
		{resolution{exp: 6}, 1_500_000, time.Unix(1, 500_000_000)},
		{resolution{exp: 9}, 1_000_000_001, time.Unix(1, 1)},
		{resolution{exp: 12}, 2_000_000_000_500, time.Unix(2, 0)},
		{resolution{binary: true, exp: 8}, 1519128000<<8 | 50, time.Unix(1519128000, 195312500)},
		{resolution{binary: true, exp: 0}, 7, time.Unix(7, 0)},
		{resolution{binary: true, exp: 127}, ^uint64(0), time.Unix(0, 0)},
		{resolution{exp: 127}, ^uint64(0), time.Unix(0, 0)},
	}
	for _, tt := range tests {
		if got := tt.res.time(tt.ts, 0); !got.Equal(tt.want) {
			t.Errorf("%+v of %d = %v, want %v", tt.res, tt.ts, got, tt.want)
		}
	}
}

// TestReaderNoAllocs: reading a packet allocates nothing, from pcap and
// from pcapng (a record header once escaped to the heap per packet).
func TestReaderNoAllocs(t *testing.T) {
	frame := Frame{Time: time.Unix(1_700_000_000, 0), Len: 64, Data: make([]byte, 64)}
	points := []Point{{Name: "a", LinkType: LinkEthernet, SnapLen: MaxSnapLen}}
	for _, ng := range []bool{false, true} {
		var file bytes.Buffer
		var w FrameWriter
		if ng {
			w, _ = NewNgWriter(&file, points, "")
		} else {
			w, _ = NewPcapWriter(&file, LinkEthernet, MaxSnapLen)
		}
		for i := 0; i < 1000; i++ {
			w.WriteFrame(frame, "")
		}
		w.Flush()
		r, err := NewReader(bytes.NewReader(file.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		r.Next() // the scratch buffer
		if n := testing.AllocsPerRun(500, func() {
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("pcapng %v: %.1f allocations a packet", ng, n)
		}
	}
}
