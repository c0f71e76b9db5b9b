package decode

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
)

// innermost is the essentials of the last "IP a > b:" in a line: the
// packet inside every tunnel.
func innermost(line string) string {
	m := endpointsRE.FindAllStringSubmatchIndex(line, -1)
	if len(m) == 0 {
		return essentials(line)
	}
	return essentials(line[m[len(m)-1][0]:])
}

// TestRecordedAgainstTcpdump: on the captures the live tests recorded
// (tunnels, fragments, cut headers, NFLOG), every packet line names the
// same outer and inner addresses, ports and TCP flags as tcpdump's. Needs
// tcpdump, not root.
func TestRecordedAgainstTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		labtest.Unavailable(t, "needs tcpdump: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	if len(files) < 8 {
		t.Fatalf("only %d recorded pcap files", len(files))
	}
	compared := 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ours, theirs := packetLines(t, file), tcpdumpLines(t, file)
			if len(ours) != len(theirs) {
				t.Fatalf("%d packets, tcpdump reads %d", len(ours), len(theirs))
			}
			for i := range ours {
				if o, th := essentials(ours[i]), essentials(theirs[i]); o != th {
					t.Errorf("packet %d outer: %q (%s), tcpdump %q (%s)", i+1, o, ours[i], th, theirs[i])
				}
				if o, th := innermost(ours[i]), innermost(theirs[i]); o != th {
					t.Errorf("packet %d inner: %q (%s), tcpdump %q (%s)", i+1, o, ours[i], th, theirs[i])
				}
				compared++
			}
		})
	}
	t.Logf("compared %d packets with tcpdump's reading", compared)
}

// packetLines is what `nsdump read --packets` prints of a file.
func packetLines(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	err = ReadFile(f, NewTracker(nil), nil, func(p *Packet, _ string) {
		lines = append(lines, string(AppendSummary(nil, p)))
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// tcpdumpLines is what `tcpdump -n -r` prints of a file, time stripped.
func tcpdumpLines(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command("tcpdump", "-n", "-r", file).Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", file, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if _, rest, ok := strings.Cut(l, " "); ok && l[0] >= '0' && l[0] <= '9' {
			lines = append(lines, rest)
		} else if len(lines) > 0 { // VXLAN's inner packet on a line of its own
			lines[len(lines)-1] += " " + l
		}
	}
	return lines
}
