package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
)

// lineException is a kind of packet whose line nsdump does not print as
// tcpdump does, and why. It is recognised in tcpdump's lines of the
// packet, for the flags listed (nil: all); the first that matches counts.
type lineException struct {
	flags []string
	re    *regexp.Regexp
	why   string
}

var lineExceptions = []lineException{
	{[]string{"-v"}, regexp.MustCompile(`ICMP6|next-header (Options|Fragment)`), "-v on ICMPv6 and IPv6 extension headers: tcpdump adds checksum verdicts, neighbour discovery options, MLD group records and fragment ids; nsdump prints them as without -v"},
	{[]string{"-v"}, regexp.MustCompile(`: (IP|GREv|Geneve|VXLAN).*$|proto (IPIP|GRE|UDP)`), "-v inside a tunnel: tcpdump prints the inner IP header's fields too; nsdump only the outer's"},
	{[]string{"-v"}, regexp.MustCompile(`unreachable`), "-v on ICMP errors: tcpdump prints the quoted packet's headers on lines of their own"},
	{nil, regexp.MustCompile(`(?m)seq 5000:5600, ack 9000, win 502, length 600$`), "a frame cut by the snap length after whole headers: nsdump marks it [truncated] (deliberately: a cut payload is worth knowing), tcpdump prints nothing"},
	{nil, regexp.MustCompile(`(?m)ICMP echo (request|reply), id \d+, seq \d+, length 1480$`), "the kernel's drop of an mtu probe's 1500-byte echo, as a trace -w file keeps it (its first 128 bytes): nsdump marks it [truncated], as it does a frame cut by the snap length; tcpdump prints nothing"},
	{nil, regexp.MustCompile(`(?m)\[\|llc\]$`), "a drop record of no packet (QUEUE_PURGE of a closed socket's queue in a trace -w file: 50 bytes with no Ethernet type): tcpdump prints [|llc], nsdump says it could not decode it (undecoded: LLC header truncated)"},
}

func exceptionFor(flags []string, block string) *lineException {
	for i := range lineExceptions {
		e := &lineExceptions[i]
		if e.flags != nil && strings.Join(e.flags, " ") != strings.Join(flags, " ") {
			continue
		}
		if e.re.MatchString(block) {
			return e
		}
	}
	return nil
}

// tcpdumpCannotRead are the captures tcpdump refuses, and why.
var tcpdumpCannotRead = map[string]string{
	"sll-drops.pcapng": "Ethernet and Linux cooked (the drop monitor's point) interfaces in one file: libpcap reads one link type per file",
}

// TestLinesAsTcpdump: every recorded capture in testdata/pcaps and
// testdata/traces, read with `nsdump read --packets` and with tcpdump -nn,
// without flags, with -e, -v, -X, -A and -XX: every packet's block of lines is
// the same, time included, once nsdump's capture point and direction are
// taken out, except for the kinds of packets lineExceptions lists with the
// reason. TCP sequence numbers are relative, as tcpdump's default.
func TestLinesAsTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		labtest.Unavailable(t, "needs tcpdump: %v", err)
	}
	files, _ := filepath.Glob("../../testdata/pcaps/*.pcap*")
	traces, _ := filepath.Glob("../../testdata/traces/*.pcap*")
	files = append(files, traces...)
	if len(files) < 15 {
		t.Fatalf("recorded captures: %v", files)
	}
	point := regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d{6}) \S+/\S+ (In|Out) `)
	for _, flags := range [][]string{nil, {"-e"}, {"-v"}, {"-X"}, {"-A"}, {"-XX"}} {
		same, excused := 0, 0
		for _, file := range files {
			if why, ok := tcpdumpCannotRead[filepath.Base(file)]; ok {
				t.Logf("%s not compared: %s", filepath.Base(file), why)
				continue
			}
			want, err := exec.Command("tcpdump", append([]string{"-r", file, "-nn"}, flags...)...).Output()
			if _, cut := err.(*exec.ExitError); err != nil && !(cut && strings.Contains(file, "truncated")) {
				t.Fatalf("tcpdump -r %s %v: %v", file, flags, err)
			}
			got, e, code := nsdump(append(append([]string{"read", "--packets"}, flags...), file)...)
			if code != 0 && !strings.Contains(file, "truncated") {
				t.Fatalf("nsdump read --packets %v %s: exit %d %s", flags, file, code, e)
			}
			wb, gb := tcpdumpBlocks(string(want)), tcpdumpBlocks(got)
			if len(wb) != len(gb) {
				t.Errorf("%s %v: tcpdump printed %d packets, nsdump %d", file, flags, len(wb), len(gb))
				continue
			}
			for i := range wb {
				w := strings.Join(wb[i], "\n")
				g := point.ReplaceAllString(strings.Join(gb[i], "\n"), "$1 ")
				if w == g {
					same++
					continue
				}
				ex := exceptionFor(flags, w)
				if ex == nil {
					t.Errorf("%s packet %d %v:\ntcpdump: %q\nnsdump:  %q", filepath.Base(file), i+1, flags, w, g)
					continue
				}
				excused++
			}
		}
		t.Logf("%v: %d packets printed as tcpdump prints them, %d listed exceptions", flags, same, excused)
		if same < 250 {
			t.Errorf("%v: only %d packets the same as tcpdump's", flags, same)
		}
	}
}

// tcpdumpBlocks splits printed packets into one block per packet: a line
// that starts with a time and the lines under it, up to the report.
func tcpdumpBlocks(out string) [][]string {
	var blocks [][]string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case stamp.MatchString(l):
			blocks = append(blocks, []string{l})
		case reportRE.MatchString(l):
			return trimBlocks(blocks)
		case len(blocks) > 0:
			blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
		}
	}
	return trimBlocks(blocks)
}

var reportRE = regexp.MustCompile(`^\d+ packets?,`)

// trimBlocks drops the empty lines that end a block: -A's payload may
// end in one, and nsdump's report follows one.
func trimBlocks(blocks [][]string) [][]string {
	for i, b := range blocks {
		for len(b) > 1 && b[len(b)-1] == "" {
			b = b[:len(b)-1]
		}
		blocks[i] = b
	}
	return blocks
}
