package decode

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/internal/labtest"
)

// peerDir is testdata/peer, the peer corpus kept in the repository.
func peerDir(t *testing.T) string { return labtest.PeerDir(t, "..") }

type manifestRow struct {
	file                        string
	packets, echo, syn, arpReqs int
}

func readManifest(t *testing.T, dir string) []manifestRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 6 || c[0] == "file" {
			continue
		}
		n := make([]int, 4)
		for i := range n {
			if n[i], err = strconv.Atoi(c[2+i]); err != nil {
				t.Fatalf("manifest row %q: %v", c[0], err)
			}
		}
		rows = append(rows, manifestRow{c[0], n[0], n[1], n[2], n[3]})
	}
	if len(rows) < 50 {
		t.Fatalf("manifest has %d rows, want 51", len(rows))
	}
	return rows
}

// wantErrors are the files a reader must refuse, with what libpcap says.
var wantErrors = map[string]string{
	"libpcap/linktype-reserved-field-not-zero.pcap": "savefile linktype reserved field not zero (0x00300000)",
	"libpcap/pcap-invalid-version-1.pcap":           "unsupported pcap savefile version 1.4",
	"libpcap/pcapng-invalid-vers-1.pcapng":          "unsupported pcapng savefile version 0.1",
	"libpcap/shb-option-too-long.pcapng":            "and trailer 808464432 don't match",
	"gopacket/test901.pcapng":                       "unsupported pcapng savefile version 2.0",
}

type peerResult struct {
	frames int
	err    error
	lines  []string
	report Report
}

func readPeer(t *testing.T, path string) peerResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var res peerResult
	tr := NewTracker(nil)
	res.err = ReadFile(f, tr, nil, func(p *Packet, point string) {
		res.frames++
		res.lines = append(res.lines, string(AppendSummary(nil, p)))
	})
	res.report = tr.Report()
	return res
}

func TestPeerCorpusManifest(t *testing.T) {
	dir := peerDir(t)
	for _, row := range readManifest(t, dir) {
		t.Run(row.file, func(t *testing.T) {
			res := readPeer(t, filepath.Join(dir, row.file))
			if want, ok := wantErrors[row.file]; ok {
				var fe *capture.FormatError
				if res.err == nil || !strings.Contains(res.err.Error(), want) || !errors.As(res.err, &fe) {
					t.Fatalf("error %v, want a FormatError containing %q", res.err, want)
				}
			} else if res.err != nil {
				t.Fatalf("read: %v", res.err)
			}
			if res.frames != row.packets {
				t.Errorf("%d packets, manifest says %d", res.frames, row.packets)
			}
			var echo, syn, arp int
			for _, ex := range res.report.Exchanges {
				switch {
				case (ex.Kind == KindEcho || ex.Kind == KindEcho6) && ex.Status == StatusAnswered:
					echo++
				case ex.Kind == KindTCPConn && ex.SynSeen != nil && *ex.SynSeen:
					syn++
				case ex.Kind == KindARPRes:
					for _, s := range ex.Seen {
						if s.What == "who-has" {
							arp++
						}
					}
				}
			}
			if echo != row.echo || syn != row.syn || arp != row.arpReqs {
				t.Errorf("answered echoes %d, TCP SYN attempts %d, ARP requests %d; manifest says %d, %d, %d",
					echo, syn, arp, row.echo, row.syn, row.arpReqs)
			}
			if row.packets == 0 && len(res.report.Exchanges) != 0 {
				t.Errorf("an empty or refused file gave %d exchanges", len(res.report.Exchanges))
			}
		})
	}
}

var (
	// tcpdump -n: "IP 1.2.3.4.80 > 5.6.7.8.1234: Flags [S.]", "ARP, Request who-has A tell B".
	endpointsRE = regexp.MustCompile(`\b(IP6?) (\S+) > (\S+?):(?: Flags (\[\S+\]))?`)
	arpRE       = regexp.MustCompile(`ARP, (Request who-has \S+ tell \S+|Reply \S+ is-at \S+)`)
	numberedRE  = regexp.MustCompile(`^\s*(\d+)  `)
)

// essentials reduces a packet line to what both printers must agree on:
// addresses, ports, TCP flags, ARP roles.
func essentials(line string) string {
	if m := endpointsRE.FindStringSubmatch(line); m != nil {
		return strings.Join(m[1:], " ")
	}
	if m := arpRE.FindStringSubmatch(line); m != nil {
		return strings.TrimSuffix(m[1], ",")
	}
	return ""
}

// TestPeerTcpdumpLines compares the --packets lines with tcpdump's own
// expected output, for the tests that run tcpdump without -v or -e.
func TestPeerTcpdumpLines(t *testing.T) {
	dir := peerDir(t)
	f, err := os.Open(filepath.Join(dir, "tcpdump", "TESTLIST.selected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	compared := 0
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 4 || c[0] == "test_name" || (c[3] != "" && c[3] != "-q SPECIAL_t") {
			continue
		}
		t.Run(c[0], func(t *testing.T) {
			res := readPeer(t, filepath.Join(dir, "tcpdump", c[1]))
			out, err := os.Open(filepath.Join(dir, "tcpdump", c[2]))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			var want []string
			osc := bufio.NewScanner(out)
			osc.Buffer(nil, 1<<20)
			for osc.Scan() {
				if numberedRE.MatchString(osc.Text()) {
					want = append(want, osc.Text())
				}
			}
			if len(want) != len(res.lines) {
				t.Fatalf("%d packet lines, tcpdump has %d", len(res.lines), len(want))
			}
			for i := range want {
				w, g := essentials(want[i]), essentials(res.lines[i])
				if w == "" {
					continue // neither IP nor ARP: nothing to compare
				}
				if strings.HasSuffix(w, " ") { // -q: tcpdump prints no flags
					g = g[:max(strings.LastIndex(g, " "), 0)] + " "
				}
				if w != g {
					t.Errorf("packet %d: nsdump %q (%s), tcpdump %q (%s)", i+1, g, res.lines[i], w, want[i])
				}
				compared++
			}
		})
	}
	t.Logf("compared %d packet lines with tcpdump's", compared)
	if compared < 500 {
		t.Errorf("compared only %d packet lines with tcpdump's", compared)
	}
}

// TestReadEmpty: a file with a header and no packets is an empty report.
func TestReadEmpty(t *testing.T) {
	var b strings.Builder
	w, err := capture.NewNgWriter(&b, []capture.Point{{Name: "a/b", LinkType: capture.LinkEthernet}}, "")
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()
	tr := NewTracker(nil)
	if err := ReadFile(strings.NewReader(b.String()), tr, nil, nil); err != nil {
		t.Fatal(err)
	}
	if r := tr.Report(); r.Packets != 0 || len(r.Exchanges) != 0 {
		t.Fatalf("report of an empty file: %+v", r)
	}
	if err := ReadFile(io.LimitReader(strings.NewReader(b.String()), 10), NewTracker(nil), nil, nil); err == nil {
		t.Fatal("a cut header read without error")
	}
}

// TestReadFilter: a filter selects exchanges, any of whose packets
// matches; every packet still joins its exchange, so an answered echo
// stays answered when the filter names only requests. Packets counts the
// packets that match.
func TestReadFilter(t *testing.T) {
	dir := peerDir(t)
	tests := []struct {
		file, expr             string
		packets, arp, ec, answ int
	}{
		{"tcpdump/dhcp-rfc4388.pcap", "arp", 12, 6, 0, 0},
		// 3 echo requests, two of them the same id and seq but 72 s apart,
		// more than the idle time: 3 exchanges, each with its unreachable.
		{"tcpdump/dhcp-rfc4388.pcap", "icmp", 6, 0, 3, 0},
		{"tcpdump/dhcp-rfc4388.pcap", "arp or icmp", 18, 6, 3, 0},
		{"tcpdump/dhcp-rfc4388.pcap", "udp port 67 or udp port 68", 36, 0, 0, 0},
		{"zeek/icmp-ping.pcap", "icmp[icmptype] == icmp-echo", 2, 0, 2, 2},
		{"zeek/icmp-ping.pcap", "src host 10.0.0.1", 2, 0, 2, 2},
		{"zeek/icmp-ping.pcap", "src host 74.125.225.99", 2, 0, 2, 2},
		{"zeek/icmp-ping.pcap", "icmp[icmptype] == icmp-echoreply and icmp[6:2] == 1", 1, 0, 1, 1},
		{"zeek/icmp-ping.pcap", "tcp", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.expr, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			flt, err := capture.NewFilterSet(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			tr := NewTracker(nil)
			if err := ReadFile(f, tr, flt, nil); err != nil {
				t.Fatal(err)
			}
			var arp, echo, answered int
			for _, ex := range tr.Exchanges() {
				switch ex.Kind {
				case KindARPRes:
					arp++
				case KindEcho:
					echo++
					if ex.Status == StatusAnswered {
						answered++
					}
				}
			}
			if tr.Packets() != tt.packets || arp != tt.arp || echo != tt.ec || answered != tt.answ {
				t.Errorf("%d packets, %d ARP and %d echo exchanges (%d answered); want %d, %d, %d (%d)",
					tr.Packets(), arp, echo, answered, tt.packets, tt.arp, tt.ec, tt.answ)
			}
		})
	}
}
