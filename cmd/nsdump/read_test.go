package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden reports under testdata/pcaps")

// TestReadGolden: every capture under testdata/pcaps has a golden text
// report (.txt) and JSON report (.json); nsdump read must reproduce both
// byte for byte. `go test ./cmd/nsdump -run TestReadGolden -update`
// rewrites them.
func TestReadGolden(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/pcaps/*.pcap*")
	if len(files) < 6 {
		t.Fatalf("only %d captures under testdata/pcaps", len(files))
	}
	for _, file := range files {
		base := strings.TrimSuffix(strings.TrimSuffix(file, ".pcapng"), ".pcap")
		for _, form := range []struct {
			ext  string
			args []string
		}{{".txt", nil}, {".json", []string{"--json"}}, {".packets.txt", []string{"--packets"}}} {
			t.Run(filepath.Base(base)+form.ext, func(t *testing.T) {
				out, errOut, code := nsdump(append([]string{"read", file}, form.args...)...)
				if code != 0 {
					t.Fatalf("read: exit %d, %s", code, errOut)
				}
				golden := base + form.ext
				if *update {
					if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if out != string(want) {
					t.Errorf("nsdump read %s %v differs from %s:\n%s", file, form.args, golden, out)
				}
			})
		}
	}
}

// TestReadLabScenarios: the recorded scenarios say what happened in them.
func TestReadLabScenarios(t *testing.T) {
	for file, want := range map[string][]string{
		"healthy.pcapng":         {"tcp        192.168.50.1:", "established", "icmp-echo  192.168.50.1 > 192.168.60.1 id", "answered"},
		"no-return-route.pcapng": {"unanswered; seen tdata-a/tda0 Out request, tdata-b/tdb0 In request"},
		"refused.pcapng":         {"> 192.168.60.1:7: refused"},
		"unanswered-arp.pcapng":  {"arp        192.168.50.1 > 192.168.60.99: unanswered"},
		"firewall-drop.pcapng": {"unanswered; the SYN was dropped in tdata-b: NETFILTER_DROP at nft_do_chain (tdb0)", "seen tdata-a/tda0 Out [S], tdata-b/tdb0 In [S], tdata-b/drops In [S]",
			"a SYN-ACK came back, the handshake never completed"},
		"no-routes.pcapng": {"0 packets, 0 exchanges"},
	} {
		out, e, code := nsdump("read", filepath.Join("../../testdata/pcaps", file))
		if code != 0 {
			t.Fatalf("read %s: exit %d %s", file, code, e)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("read %s lacks %q:\n%s", file, w, out)
			}
		}
	}
}
