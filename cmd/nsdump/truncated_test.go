package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/nsdump/nsdump/capture"
)

// truncatedTail is testdata/pcaps/rd-truncated-tail.pcapng: made by code
// (with -update) from rd-tcp-tracking.pcapng, cut inside its last packet.
const truncatedTail = "../../testdata/pcaps/rd-truncated-tail.pcapng"

// cut writes the first n bytes of file to a new file.
func cut(t *testing.T, file string, drop int) string {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "cut-"+filepath.Base(file))
	if err := os.WriteFile(name, data[:len(data)-drop], 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// regressionPcap is writeRegression's capture as classic pcap.
func regressionPcap(t *testing.T) string {
	name := filepath.Join(t.TempDir(), "regression.pcap")
	ng, err := os.Open(writeRegression(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ng.Close()
	rd, err := capture.NewReader(ng)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, _ := capture.NewPcapWriter(f, capture.LinkEthernet, 262144)
	for {
		fr, err := rd.Next()
		if err != nil {
			break
		}
		w.WriteFrame(fr, "")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestReadTruncated: a file cut inside its last packet reports every
// complete packet (as many as tcpdump prints), then one warning naming the
// offset, exit 0; --json stays one document with the warning inside.
func TestReadTruncated(t *testing.T) {
	if *update { // the golden case: rd-tcp-tracking cut in its last packet
		data, err := os.ReadFile(tcpTracking)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(truncatedTail, data[:len(data)-40], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range []string{writeRegression(t), regressionPcap(t)} {
		name := cut(t, file, 30)
		out, e, code := nsdump("read", name, "--packets")
		if code != 0 {
			t.Fatalf("read %s: exit %d, %s", name, code, e)
		}
		if !strings.Contains(out, "13 packets, 7 exchanges") {
			t.Errorf("read %s: not every complete packet:\n%s", name, out)
		}
		if n := strings.Count(e, "\n"); n != 1 || !strings.Contains(e, "nsdump: warning: "+name+": cut short in the record at offset ") {
			t.Errorf("read %s: stderr %q, want one warning naming the offset", name, e)
		}
		if _, err := exec.LookPath("tcpdump"); err == nil {
			td, _ := exec.Command("tcpdump", "-nr", name).Output()
			lines := 0
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "00:00:") {
					lines++
				}
			}
			if want := strings.Count(string(td), "\n"); lines != want {
				t.Errorf("read --packets %s: %d packet lines, tcpdump %d", name, lines, want)
			}
		}
		js, e, code := nsdump("read", name, "--json")
		var doc struct {
			Packets  int
			Warnings []string
		}
		if err := json.Unmarshal([]byte(js), &doc); err != nil || code != 0 || doc.Packets != 13 || len(doc.Warnings) != 1 {
			t.Errorf("read --json %s: exit %d, %v, %+v\n%s%s", name, code, err, doc, js, e)
		}
	}
}

// TestReadJSONIsWhole: bad input still gives one JSON document, the error
// inside it, exit 2.
func TestReadJSONIsWhole(t *testing.T) {
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "not.pcap")
	os.WriteFile(notPcap, []byte("hello, this is not a capture file"), 0o644)
	good := writeRegression(t)
	data, _ := os.ReadFile(good)
	broken := filepath.Join(dir, "broken.pcapng")
	os.WriteFile(broken, append(data, 6, 0, 0, 0, 5, 0, 0, 0), 0o644) // a block of length 5
	for _, args := range [][]string{
		{notPcap},
		{good, notPcap},
		{broken},
	} {
		out, e, code := nsdump(append([]string{"read", "--json"}, args...)...)
		var doc struct {
			Packets   int
			Exchanges []json.RawMessage
			Error     string
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Errorf("read --json %v: not one document: %v\n%s", args, err, out)
			continue
		}
		if code != 2 || doc.Error == "" || !strings.Contains(e, doc.Error) {
			t.Errorf("read --json %v: exit %d, error %q, stderr %q", args, code, doc.Error, e)
		}
	}
}

// TestReadFarTimestamps: a pcapng whose timestamps fall after the year
// 9999 still encodes: clamped to 9999-12-31T23:59:59.999999999Z.
func TestReadFarTimestamps(t *testing.T) {
	le := binary.LittleEndian
	block := func(typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		b := le.AppendUint32(nil, typ)
		b = le.AppendUint32(b, uint32(12+len(body)))
		b = append(b, body...)
		return le.AppendUint32(b, uint32(12+len(body)))
	}
	shb := le.AppendUint32(nil, 0x1A2B3C4D)
	shb = le.AppendUint16(shb, 1)
	shb = le.AppendUint16(shb, 0)
	shb = le.AppendUint64(shb, ^uint64(0))
	// Ethernet, if_tsresol 10^0: timestamps in seconds.
	idb := []byte{1, 0, 0, 0, 0, 0, 4, 0, 9, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	frame := serialize(t, ether(macA, layers.EthernetBroadcast, layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet,
		Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
		SourceHwAddress: macA, SourceProtAddress: ipA, DstHwAddress: make([]byte, 6), DstProtAddress: ipB})
	var file []byte
	file = append(file, block(0x0A0D0D0A, shb)...)
	file = append(file, block(1, idb)...)
	for _, ts := range []uint64{1 << 40, 1 << 50} {
		epb := le.AppendUint32(nil, 0)
		epb = le.AppendUint32(epb, uint32(ts>>32))
		epb = le.AppendUint32(epb, uint32(ts))
		epb = le.AppendUint32(epb, uint32(len(frame)))
		epb = le.AppendUint32(epb, uint32(len(frame)))
		file = append(file, block(6, append(epb, frame...))...)
	}
	name := filepath.Join(t.TempDir(), "far.pcapng")
	os.WriteFile(name, file, 0o644)
	out, e, code := nsdump("read", "--json", name)
	var doc struct {
		Exchanges []struct{ Start time.Time }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || len(doc.Exchanges) == 0 {
		t.Fatalf("exit %d %s, %v:\n%s", code, e, err, out)
	}
	if got := doc.Exchanges[0].Start.Year(); got != 9999 {
		t.Errorf("start year %d, want 9999 (clamped)", got)
	}
}

// TestWriteErrors: a full standard output is an error, exit 2.
func TestWriteErrors(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer full.Close()
	file := writeRegression(t)
	for _, args := range [][]string{{"read", file}, {"read", "--json", file}, {"read", "--packets", file}, {"--help"}} {
		var e strings.Builder
		err := run(t.Context(), args, full, &e)
		if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), "write standard output") {
			t.Errorf("%v > /dev/full: %v (exit %d)", args, err, exitCode(err))
		}
	}
}
