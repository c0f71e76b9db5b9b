package decode

import (
	"os/exec"
	"path/filepath"
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
