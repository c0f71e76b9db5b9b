package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
)

// recipe is the CI recipe of docs/read.md ("Recorded captures in CI"):
// the commands that record the capture, the expectations written next to
// it, and the command CI runs.
type recipe struct {
	record  []string // nsdump setup ..., nsdump trace ... -w FILE
	expects []string // the lines of the .expect file
	check   string   // nsdump read FILE --expect-file F
}

// readRecipe parses the recipe out of docs/read.md as the docs write it.
func readRecipe(t *testing.T) recipe {
	b, err := os.ReadFile("../../docs/read.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n## Recorded captures in CI\n")
	if !ok {
		t.Fatal("docs/read.md has no section \"Recorded captures in CI\"")
	}
	_, block, _ := strings.Cut(after, "```\n")
	block, _, _ = strings.Cut(block, "```")
	var r recipe
	inExpect := false
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#"):
			inExpect = strings.Contains(l, ".expect, kept next to it")
		case l == "":
		case strings.HasPrefix(l, "nsdump read "):
			r.check = l
		case strings.HasPrefix(l, "nsdump "):
			r.record = append(r.record, l)
		case inExpect:
			r.expects = append(r.expects, l)
		default:
			t.Fatalf("docs/read.md's recipe: a line neither command nor expectation: %q", l)
		}
	}
	if len(r.record) != 2 || len(r.expects) == 0 || r.check == "" {
		t.Fatalf("docs/read.md's recipe: want setup and trace, expectations and a read; got %+v", r)
	}
	return r
}

// expectLines are the expectations of an --expect-file, comments and
// blank lines left out.
func expectLines(t *testing.T, name string) []string {
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// TestReadRecipeRecorded re-records the capture of docs/read.md's CI
// recipe with the docs' commands (in namespaces of the test's own) and
// runs the docs' expectations on it as CI would: they hold (exit 0). The
// expectations are also those of testdata/pcaps/refused.expect, which the
// docs say the pair there is.
func TestReadRecipeRecorded(t *testing.T) {
	r := readRecipe(t)
	if want := expectLines(t, "../../testdata/pcaps/refused.expect"); !slices.Equal(r.expects, want) {
		t.Errorf("docs/read.md's refused.expect:\n%s\ntestdata/pcaps/refused.expect:\n%s", strings.Join(r.expects, "\n"), strings.Join(want, "\n"))
	}
	l := labtest.Names(t, "ex")
	bin := buildNsdump(t)
	dir := t.TempDir()
	names := strings.NewReplacer("tdata-a", l.NS0, "tdata-b", l.NS1, "tda0", l.Veth0, "tdb0", l.Veth1)
	run := func(line string, want int) {
		t.Helper()
		cmd := exec.Command("bash", "-c", "exec "+names.Replace(line))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "NO_COLOR=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != want {
			t.Fatalf("%s: exit %d, want %d:\n%s", cmd.Args[2], code, want, out.String())
		}
	}
	run(r.record[0], 0) // setup
	run(r.record[1], 1) // trace: the recipe records refused connections
	// The read command names the pair as the repository keeps it.
	pcaps := filepath.Join(dir, "testdata", "pcaps")
	if err := os.MkdirAll(pcaps, 0o755); err != nil {
		t.Fatal(err)
	}
	recorded := strings.Fields(r.record[1])
	file := recorded[len(recorded)-1] // trace ... -w FILE
	if err := os.Rename(filepath.Join(dir, file), filepath.Join(pcaps, file)); err != nil {
		t.Fatal(err)
	}
	expect := strings.TrimSuffix(file, ".pcapng") + ".expect"
	if err := os.WriteFile(filepath.Join(pcaps, expect), []byte(strings.Join(r.expects, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(r.check, 0)
}
