package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

var stamp = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} `)

// packetBlocks splits printed packets into one block of lines per packet:
// a line that starts with a time, and the lines under it.
func packetBlocks(out string) [][]string {
	var blocks [][]string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case stamp.MatchString(l):
			blocks = append(blocks, []string{l})
		case len(blocks) > 0 && (strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "    ")):
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
		case len(blocks) > 0:
			return blocks // the exchange report after the packets
		}
	}
	return blocks
}

// comparePrinting reads file with tcpdump -nn and with nsdump read
// --packets, both with flags, and compares what pick takes of each packet;
// it returns how many pieces it compared.
func comparePrinting(t *testing.T, file string, flags []string, pick func(block []string) []string) int {
	t.Helper()
	// A file cut short: tcpdump prints the packets before the cut, then
	// fails; so does nsdump.
	want, err := exec.Command("tcpdump", append([]string{"-r", file, "-nn"}, flags...)...).Output()
	if _, cut := err.(*exec.ExitError); err != nil && !(cut && strings.Contains(file, "truncated")) {
		t.Fatalf("tcpdump -r %s %v: %v", file, flags, err)
	}
	got, e, code := nsdump(append(append([]string{"read", "--packets"}, flags...), file)...)
	if code != 0 && !strings.Contains(file, "truncated") {
		t.Fatalf("nsdump read --packets %v: exit %d %s", flags, code, e)
	}
	wb, gb := packetBlocks(string(want)), packetBlocks(got)
	if len(wb) != len(gb) {
		t.Fatalf("%v: tcpdump printed %d packets, nsdump %d", flags, len(wb), len(gb))
	}
	compared := 0
	for i := range wb {
		w, g := pick(wb[i]), pick(gb[i])
		if strings.Join(w, "\n") != strings.Join(g, "\n") {
			t.Errorf("%s packet %d %v:\ntcpdump: %q\nnsdump:  %q\n(tcpdump's block %q)", filepath.Base(file), i+1, flags, w, g, wb[i])
		}
		compared += len(w)
	}
	return compared
}

func matches(re *regexp.Regexp) func([]string) []string {
	return func(block []string) []string {
		return re.FindAllString(strings.Join(block, "\n"), -1)
	}
}

// firstMatch leaves out the headers tcpdump -v prints of the packet an
// ICMP error quotes.
func firstMatch(re *regexp.Regexp) func([]string) []string {
	return func(block []string) []string {
		if m := re.FindString(block[0]); m != "" {
			return []string{m}
		}
		return nil
	}
}

// TestPrintingAsTcpdump: -X, -XX, -e and -v print what tcpdump prints for
// the same packets of the recorded captures: hex dumps line for line, the
// link-layer header, the IP header fields and the TCP options.
func TestPrintingAsTcpdump(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/pcaps/*.pcapng")
	if len(files) < 3 {
		t.Fatalf("recorded captures: %v", files)
	}
	hexLines := func(block []string) []string {
		var out []string
		for _, l := range block {
			if strings.HasPrefix(l, "\t0x") {
				out = append(out, l)
			}
		}
		return out
	}
	link := regexp.MustCompile(`[0-9a-f:]{17} > [0-9a-f:]{17}, [^:]*?, length \d+: `)
	ipv4 := regexp.MustCompile(`\(tos 0x[^)]*?\(\d+\), length \d+\)`)
	ipv6 := regexp.MustCompile(`\((class \S+ )?(flowlabel \S+ )?hlim \d+, next-header \S+ \(\d+\) payload length: \d+\)`)
	tcpOpts := regexp.MustCompile(`options \[[^\]]*\]`)
	checks := []struct {
		flags []string
		pick  func([]string) []string
		what  string
	}{
		{[]string{"-X"}, hexLines, "hex lines"},
		{[]string{"-XX"}, hexLines, "hex lines from the link header"},
		{[]string{"-e"}, matches(link), "link-layer headers"},
		{[]string{"-v"}, firstMatch(ipv4), "IPv4 headers"},
		{[]string{"-v"}, firstMatch(ipv6), "IPv6 headers"},
		{[]string{"-v"}, matches(tcpOpts), "TCP option lists"},
	}
	for _, c := range checks {
		n := 0
		for _, f := range files {
			n += comparePrinting(t, f, c.flags, c.pick)
		}
		t.Logf("%v: %d %s identical to tcpdump's", c.flags, n, c.what)
		if n < 10 {
			t.Errorf("%v: only %d %s compared", c.flags, n, c.what)
		}
	}
}

// TestPrintingASCII: -A prints the payload's visible characters, the test
// message of a TCP probe among them, as tcpdump -A does.
func TestPrintingASCII(t *testing.T) {
	file := "../../testdata/pcaps/healthy.pcapng"
	want, err := exec.Command("tcpdump", "-r", file, "-nn", "-A").Output()
	if err != nil {
		t.Fatal(err)
	}
	got, _, code := nsdump("read", "--packets", "-A", file)
	wb, gb := packetBlocks(string(want)), packetBlocks(got)
	if code != 0 || len(wb) != len(gb) {
		t.Fatalf("exit %d, %d packets, tcpdump %d", code, len(gb), len(wb))
	}
	asText := func(b []string) string { return strings.Join(b[1:], "\n") }
	differ := 0
	for i := range wb {
		if asText(wb[i]) != asText(gb[i]) {
			differ++
			t.Errorf("packet %d: tcpdump %q, nsdump %q", i+1, asText(wb[i]), asText(gb[i]))
		}
	}
	if !strings.Contains(got, "nsdump trace") {
		t.Errorf("the test message is not in the ASCII:\n%s", got)
	}
}

// TestTimestampsAsTcpdump: -t, -tt, -ttt, -tttt (in UTC) and -ttttt give
// each packet the time tcpdump gives it.
func TestTimestampsAsTcpdump(t *testing.T) {
	stampRE := regexp.MustCompile(`^( \d\d:\d\d:\d\d\.\d{6}|\d+\.\d{6}|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}) `)
	stamps := func(out string) []string {
		var list []string
		for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
			if l == "" || strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "    ") {
				continue
			}
			list = append(list, stampRE.FindString(l))
		}
		return list
	}
	file := "../../testdata/pcaps/healthy.pcapng"
	for _, flag := range []string{"-t", "-tt", "-ttt", "-tttt", "-ttttt"} {
		cmd := exec.Command("tcpdump", "-r", file, "-nn", flag)
		cmd.Env = append(cmd.Environ(), "TZ=UTC")
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("tcpdump %s: %v", flag, err)
		}
		got, e, code := nsdump("read", "--packets", flag, file)
		if code != 0 {
			t.Fatalf("read --packets %s: exit %d %s", flag, code, e)
		}
		lines := strings.Split(got, "\n")
		w := stamps(string(want))
		if len(w) < 10 || len(lines) <= len(w) || !regexp.MustCompile(`^\d+ packets`).MatchString(lines[len(w)]) {
			t.Fatalf("%s: tcpdump printed %d packets; nsdump:\n%s", flag, len(w), got)
		}
		g := stamps(strings.Join(lines[:len(w)], "\n"))
		for i := range w {
			if w[i] != g[i] {
				t.Fatalf("%s, packet %d: tcpdump %q, nsdump %q", flag, i+1, w[i], g[i])
			}
		}
		if flag != "-t" && w[1] == "" {
			t.Fatalf("%s: no time found in %q", flag, string(want))
		}
	}
}

// TestPrinting8023AsTcpdump: an 802.3 frame (a length, not an EtherType,
// after the addresses), as a kernel drop of unknown protocol is written
// (EtherType 0, nothing after the header), prints its length field as
// tcpdump -e does.
func TestPrinting8023AsTcpdump(t *testing.T) {
	mac := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	frames := []capture.Frame{
		{Len: 50, Data: append(append([]byte(nil), mac...), 0, 0)},
		{Len: 60, Data: []byte{0x01, 0x80, 0xc2, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0, 7, 0x42, 0x42, 0x03, 0, 0, 0, 0}},
	}
	var buf bytes.Buffer
	w, err := capture.NewNgWriter(&buf, []capture.Point{{Name: "A/drops", LinkType: capture.LinkEthernet, SnapLen: 262144}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		f.Time, f.LinkType = time.Unix(1700000000, int64(i)*1000), capture.LinkEthernet
		if err := w.WriteFrame(f, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "8023.pcapng")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`[0-9a-f:]{17} > [0-9a-f:]{17}, [^:]*?, length \d+: `)
	if n := comparePrinting(t, file, []string{"-e"}, matches(link)); n != 2 {
		t.Errorf("%d link-layer headers compared, want 2", n)
	}
}
