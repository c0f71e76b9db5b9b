package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// The docs test runs every command README.md and docs/*.md show in a code
// block, and every example of `nsdump CMD --help`, in namespaces of its
// own, and compares what the docs show with what the command does.
//
// What counts as a command, in a fenced code block:
//   - "$ nsdump ..." or "# nsdump ..." (a prompt): the lines after it, up
//     to the next prompt or the end of the block, are its shown output;
//   - "nsdump ..." alone on its line: a command shown without output;
//   - a synopsis ("nsdump read FILE... [--json] ..."): not run; every
//     flag it names must be one `nsdump CMD --help` lists;
//   - README's demo transcript (the block after "scripts/demo.sh"): the
//     whole block is what `nsdump demo` prints.
//
// Names: vnet0, vnet1, veth0, veth1 (and the docs' other lab names, red,
// blue, tdata-a, tdata-b, tda0, tdb0) become the test's own; commands that
// name no lab (setup, teardown, demo) get its naming flags. Addresses stay
// as the docs give them: they live inside the test's namespaces.
//
// Comparison of shown output (after the test's names are put back):
// runs of spaces count as one (a column's width follows the names'
// length); times of day, RTTs ("0.015 ms"), "took N s", inodes, pids and
// ICMP ids are replaced by placeholders; a shown line "..." or starting
// "... " stands for any number of lines. Every other line must be the
// same, in the same order. The failure names the doc's file and line.
//
// Exit code: 0, unless docExit gives another, for the commands whose
// failure the docs show. A command that runs until interrupted (capture
// without -c, or with -c more than the test sends) is stopped with SIGINT
// once it says "capturing on", and must then exit 0.

// docNotRun are the commands the test cannot run here, keyed by the
// command as the docs write it, and why. An entry no doc shows any more
// fails the test: remove it.
var docNotRun = map[string]string{
	"nsdump capture vnet0 vnet1 -w - | wireshark -k -i -": "needs Wireshark's window",
	"nsdump capture vnet0 -w - | tshark -r -":             "a pipeline that runs until interrupted: SIGINT would reach tshark too",
	"nsdump ls pid:$!":                              "part of a shell session whose namespace ($!, a backgrounded unshare) the test does not have",
	"nsdump trace red pid:31337":                    "names a process (pid 31337) of that shell session",
	"nsdump capture red /proc/31337/ns/net/v1 icmp": "names a process (pid 31337) of that shell session",
	"nsdump ls pid:4242 /run/docker/netns/1a2b3c":   "names a process and a Docker namespace that do not exist here",
	"nsdump capture pid:4242/eth0 icmp6":            "names a process that does not exist here",
	"nsdump capture --all -w all.pcapng icmp":       "captures in every namespace on the host, other tests' included",
	"nsdump ls --all":                               "lists every namespace on the host, other tests' included, as they come and go",
	"nsdump ls":                                     "lists every named namespace on the host, other tests' included, as they come and go",
	// Containers: the engines and containers these name are made by
	// containers_test.go (TestDockerContainersByName, TestPodmanContainersByName),
	// which runs the same commands on them.
	"nsdump ls docker:web pod:default/nginx":                                "names a Docker container and a pod this host does not run",
	"nsdump trace web db":                                                   "names Docker containers this host does not run",
	"nsdump capture docker:web/eth0 pod:shop/cart-7d9f/eth0 -w shop.pcapng": "names a Docker container and a pod this host does not run",
	"nsdump route podman:api 10.89.0.1":                                     "names a Podman container this host does not run",
	"nsdump trace pod:shop/cart-7d9f pod:shop/db-0":                         "names Kubernetes pods of a node, not of this host",
	"nsdump capture pod:shop/cart-7d9f/eth0 -w /tmp/cart.pcapng":            "names a Kubernetes pod of a node, not of this host",
}

// docExit are the exit codes the docs show (or their prose states) when
// not 0.
var docExit = map[string]int{
	"nsdump trace vnet0 vnet1 --no-listen --port 22":                                                         1, // nothing listens on 22: port-closed
	"nsdump trace tdata-a tdata-b --count 2 --no-listen --port 7 -w refused.pcapng":                          1, // the recipe records refused connections
	"nsdump trace vnet0 vnet1 --to 10.0.2.9":                                                                 1, // no namespace owns it
	"nsdump read refused.pcapng --expect 'icmp-echo[probe=icmp-echo]:answered>=5' --expect 'tcp:refused==2'": 1,
	"nsdump read refused.pcapng --expect 'tcp:refsued==2'":                                                   2,
}

// docKnownDiffer are commands that run but whose shown output is known
// not to hold, with the issue that tracks it: the test logs what they
// print instead of failing.
var docKnownDiffer = map[string]string{}

type docCommand struct {
	where  string // README.md:67
	line   string // the command as the docs write it, without prompt or comment
	output []string
	outAt  int // the doc line of output[0]
	file   string
}

var (
	synopsisRE = regexp.MustCompile(`\[[^\]]*\]|\.\.\.|\b(NS|FILE|TARGET|DST|NS_A|NS_B)\b`)
	promptRE   = regexp.MustCompile(`^[$#] `)
)

// docCommands reads the commands of README.md and docs/*.md.
func docCommands(t *testing.T) []docCommand {
	files, _ := filepath.Glob("../../docs/*.md")
	files = append([]string{"../../README.md"}, files...)
	var cmds []docCommand
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "../../")
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			if !strings.HasPrefix(lines[i], "```") {
				continue
			}
			start := i + 1
			for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			}
			cmds = append(cmds, blockCommands(name, lines, start, i)...)
		}
	}
	return cmds
}

// blockCommands reads the commands of lines[start:end], a code block.
func blockCommands(file string, lines []string, start, end int) []docCommand {
	before := ""
	for j := start - 2; j >= 0 && before == ""; j-- {
		before = strings.TrimSpace(lines[j])
	}
	if strings.Contains(before, "scripts/demo.sh") {
		return []docCommand{{where: fmt.Sprintf("%s:%d", file, start), line: "nsdump demo", output: lines[start:end], outAt: start + 1, file: file}}
	}
	var cmds []docCommand
	cur := -1      // the command whose output the lines are
	other := false // the lines are the output of a command not nsdump's
	for j := start; j < end; j++ {
		l := lines[j]
		prompt := promptRE.MatchString(l)
		// A line without a prompt under a prompted command is that
		// command's output, even when it starts with "nsdump " (the
		// Wireshark plugin's tree does).
		inOutput := !prompt && (other || cur >= 0 && cmds[cur].output != nil)
		if inOutput || !(prompt && strings.HasPrefix(l[2:], "nsdump ")) && !strings.HasPrefix(l, "nsdump ") {
			if prompt {
				cur = -1 // another command, or a comment: the output ends
				other = strings.HasPrefix(l, "$ ")
			} else if cur >= 0 && cmds[cur].output != nil {
				cmds[cur].output = append(cmds[cur].output, l)
			}
			continue
		}
		other = false
		c := docCommand{where: fmt.Sprintf("%s:%d", file, j+1), file: file, line: l}
		if prompt {
			c.line, c.output, c.outAt = l[2:], []string{}, j+2
		}
		if k := strings.Index(c.line, "   "); k > 0 {
			c.line = c.line[:k] // a comment after the command, or a synopsis' note
		}
		if k := strings.Index(c.line, " # "); k > 0 {
			c.line = c.line[:k]
		}
		c.line = strings.TrimSpace(c.line)
		cmds = append(cmds, c)
		cur = len(cmds) - 1
	}
	for i := range cmds {
		cmds[i].output = trimBlank(cmds[i].output)
	}
	return cmds
}

func trimBlank(l []string) []string {
	if l == nil {
		return nil
	}
	for len(l) > 0 && strings.TrimSpace(l[len(l)-1]) == "" {
		l = l[:len(l)-1]
	}
	return l
}

// helpExamples are the examples of every command's --help.
func helpExamples() []docCommand {
	var cmds []docCommand
	for _, c := range commands() {
		for _, ex := range strings.Split(c.examples, "\n") {
			if ex = strings.TrimSpace(ex); ex != "" {
				cmds = append(cmds, docCommand{where: "nsdump " + c.name + " --help", line: ex, file: "help"})
			}
		}
	}
	return cmds
}

func isSynopsis(line string) bool { return synopsisRE.MatchString(line) }

// checkSynopsis: every flag a synopsis names is one its command has.
func checkSynopsis(t *testing.T, c docCommand) {
	f := strings.Fields(c.line)
	if len(f) < 2 {
		return
	}
	help, _, code := nsdump(f[1], "--help")
	if code != 0 {
		t.Errorf("%s: synopsis of an unknown command %q", c.where, f[1])
		return
	}
	for _, flag := range regexp.MustCompile(`(?:^|[\s\[|])(--?[a-zA-Z][a-zA-Z0-9-]*)`).FindAllStringSubmatch(c.line, -1) {
		name := flag[1]
		if strings.HasPrefix(name, "--") && !strings.Contains(help, name+" ") && !strings.Contains(help, name+"\n") ||
			!strings.HasPrefix(name, "--") && !strings.Contains(help, "  "+name[:2]+",") && !strings.Contains(help, "  "+name[:2]+" ") {
			if name == "-XX" || name == "-AA" || name == "-" {
				continue // the doubled flags are counts of -X, -A; "-" is standard input
			}
			t.Errorf("%s: the synopsis names %s, which nsdump %s --help does not list", c.where, name, f[1])
		}
	}
}

// docLab is the test's stand-in for the docs' lab.
type docLab struct {
	lab      topology.Lab
	dir, bin string
	names    map[string]string // the docs' names to the test's
	fromTest *strings.Replacer
	// custom: a documented setup built the lab with other addresses;
	// file: the doc it did so in (later commands there expect it).
	custom bool
	file   string
}

func newDocLab(t *testing.T) *docLab {
	l := labtest.Names(t, "ou")
	l.Addr0, l.Addr1 = topology.DefaultLab().Addr0, topology.DefaultLab().Addr1
	d := &docLab{lab: l, dir: t.TempDir(), bin: buildNsdump(t)}
	d.names = map[string]string{"vnet0": l.NS0, "vnet1": l.NS1, "veth0": l.Veth0, "veth1": l.Veth1,
		"tdata-a": l.NS0, "tdata-b": l.NS1, "tda0": l.Veth0, "tdb0": l.Veth1, "red": l.NS0, "blue": l.NS1}
	d.fromTest = strings.NewReplacer(l.NS0, "vnet0", l.NS1, "vnet1", l.Veth0, "veth0", l.Veth1, "veth1")
	// the files the read examples name, from the recorded captures
	os.Symlink(filepath.Join(mustAbs(t, "../../testdata")), filepath.Join(d.dir, "testdata"))
	for name, src := range map[string]string{"lab.pcapng": "healthy.pcapng", "a.pcap": "nflog.pcap", "b.pcapng": "refused.pcapng"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/pcaps", src))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d.dir, name), b, 0o600)
	}
	return d
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// docName is a lab name as a word of its own: not inside a flag
// (--veth0) or another word.
var docName = regexp.MustCompile(`(^|[^-\w])(vnet0|vnet1|veth0|veth1|tdata-a|tdata-b|tda0|tdb0|red|blue)\b`)

// command is line with the test's names, the naming flags added where the
// command would act on the default lab.
func (d *docLab) command(line string) string {
	s := docName.ReplaceAllStringFunc(line, func(w string) string {
		m := docName.FindStringSubmatch(w)
		return m[1] + d.names[m[2]]
	})
	f := strings.Fields(s)
	if len(f) >= 2 && (f[1] == "setup" || f[1] == "teardown" || f[1] == "demo") {
		for _, flag := range []string{"--ns0", "--ns1", "--veth0", "--veth1"} {
			if !strings.Contains(s, flag+" ") {
				v := map[string]string{"--ns0": d.lab.NS0, "--ns1": d.lab.NS1, "--veth0": d.lab.Veth0, "--veth1": d.lab.Veth1}[flag]
				s += " " + flag + " " + v
			}
		}
	}
	return s
}

// before puts the lab in the state a command expects: absent for setup
// and demo (each example builds its own, as on a fresh machine); as a
// documented setup left it for the commands after it in the same doc;
// else the docs' lab, built with its routes.
func (d *docLab) before(t *testing.T, c docCommand) {
	f := strings.Fields(c.line)
	switch {
	case f[1] == "demo" || f[1] == "setup":
		topology.Teardown(d.lab, true)
		d.custom, d.file = f[1] == "setup", c.file
		return
	case f[1] == "teardown":
		return
	case d.custom && c.file == d.file && c.file != "help":
		return
	case d.custom:
		topology.Teardown(d.lab, true)
		d.custom = false
	}
	if !topology.NamespaceExists(d.lab.NS0) || !topology.NamespaceExists(d.lab.NS1) {
		if _, err := topology.Setup(d.lab, true); err != nil {
			t.Fatalf("setup of the docs' lab: %v", err)
		}
	}
}

// runsUntilInterrupted: a capture without -c, or waiting for more packets
// than the test makes.
func runsUntilInterrupted(line string) bool {
	f := strings.Fields(line)
	if f[1] != "capture" {
		return false
	}
	for i, a := range f {
		if a == "-c" && i+1 < len(f) {
			return f[i+1] != "1"
		}
	}
	return true
}

// run runs the command through bash in the test's directory, nsdump first
// on PATH, and returns its output (standard output and error, in order)
// and exit code.
func (d *docLab) run(t *testing.T, cmdline string, interrupt bool) (string, int) {
	cmd := exec.Command("bash", "-c", "exec "+cmdline)
	cmd.Dir = d.dir
	// HOME and XDG_CONFIG_HOME of the test's own: a documented command may
	// install into the user's folders (wireshark-plugin --install), and
	// tshark in other tests would load what it left there.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(d.bin)+":"+os.Getenv("PATH"), "NO_COLOR=1",
		"HOME="+d.dir, "XDG_CONFIG_HOME="+filepath.Join(d.dir, ".config"))
	var out lockedWriter
	out.buf = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	if interrupt {
		until(t, "capturing on", func() bool {
			select {
			case <-done:
				return true // it failed to start: its output says why
			default:
				return strings.Contains(out.String(), "capturing on")
			}
		})
		exec.Command("ip", "netns", "exec", d.lab.NS0, "ping", "-c1", "-W1", d.lab.Addr1.Addr().String()).Run()
		cmd.Process.Signal(syscall.SIGINT)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Errorf("%s: still running after 2 minutes", cmdline)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

var docNormal = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d\d:\d\d:\d\d\.\d{6}`), "TIME"},
	{regexp.MustCompile(`\d+\.\d+ ms`), "N ms"},
	{regexp.MustCompile(`took \d+\.\d+ s`), "took N s"},
	{regexp.MustCompile(`net:\[\d+\]`), "net:[N]"},
	{regexp.MustCompile(`pid:\d+`), "pid:N"},
	{regexp.MustCompile(`nsdump_trace_\d+_\d+`), "nsdump_trace_PID_N"},
	{regexp.MustCompile(`id \d+, seq`), "id N, seq"},
	// how many sightings a TCP probe has depends on timing (a FIN may
	// carry the last ACK)
	{regexp.MustCompile(`\(\d+ sightings\)`), "(N sightings)"},
	{regexp.MustCompile(` +`), " "},
}

func normalDoc(s string) string {
	for _, n := range docNormal {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return strings.TrimRight(s, " ")
}

// compareShown compares the shown lines with the output; it returns the
// index of the first shown line that does not hold, or -1.
func compareShown(shown, got []string) (int, string) {
	g := 0
	for i, s := range shown {
		s = normalDoc(s)
		if s == "..." || strings.HasPrefix(s, "... ") && !strings.Contains(s, "sightings") {
			// any lines, up to the one that matches the next shown line
			if i+1 == len(shown) {
				return -1, ""
			}
			next := normalDoc(shown[i+1])
			for g < len(got) && normalDoc(got[g]) != next {
				g++
			}
			continue
		}
		if g >= len(got) {
			return i, "(no more output)"
		}
		if normalDoc(got[g]) != s {
			return i, got[g]
		}
		g++
	}
	if g < len(got) {
		return len(shown), got[g]
	}
	return -1, ""
}

// TestDocsCommands runs the commands of README.md, docs/ and --help.
func TestDocsCommands(t *testing.T) {
	d := newDocLab(t)
	cmds := append(docCommands(t), helpExamples()...)
	if len(cmds) < 40 {
		t.Fatalf("found %d documented commands", len(cmds))
	}
	seen := map[string]bool{}
	ran := 0
	for _, c := range cmds {
		seen[c.line] = true
		switch why, notRun := docNotRun[c.line]; {
		case notRun:
			t.Logf("%s: not run: %s: %s", c.where, c.line, why)
		case c.output == nil && c.file != "help" && isSynopsis(c.line):
			checkSynopsis(t, c)
		default:
			d.check(t, c)
			ran++
		}
	}
	var stale []string
	for _, table := range []map[string]string{docNotRun, docKnownDiffer, exitsAsText()} {
		for k := range table {
			if !seen[k] {
				stale = append(stale, k)
			}
		}
	}
	sort.Strings(stale)
	for _, k := range stale {
		t.Errorf("the docs no longer show %q: remove it from the docs test's tables", k)
	}
	t.Logf("%d documented commands, %d run", len(cmds), ran)
}

func exitsAsText() map[string]string {
	m := map[string]string{}
	for k, v := range docExit {
		m[k] = fmt.Sprint(v)
	}
	return m
}

// check runs c and compares its exit code, JSON and shown output with the
// docs'.
func (d *docLab) check(t *testing.T, c docCommand) {
	d.before(t, c)
	cmdline := d.command(c.line)
	out, code := d.run(t, cmdline, runsUntilInterrupted(c.line))
	t.Logf("%s: ran %s: exit %d, %d lines, %d shown", c.where, c.line, code, strings.Count(out, "\n"), len(c.output))
	if why, ok := docKnownDiffer[c.line]; ok {
		t.Logf("%s: %s: known to differ (%s); exit %d:\n%s", c.where, c.line, why, code, out)
		return
	}
	if want := docExit[c.line]; code != want {
		t.Errorf("%s: %s (run as %s): exit %d, want %d:\n%s", c.where, c.line, cmdline, code, want, out)
		return
	}
	if f := strings.Fields(c.line); strings.Contains(c.line, "--json") {
		checkJSONTypes(t, c, f[1], out)
	}
	if c.output == nil {
		return
	}
	got := strings.Split(strings.TrimRight(d.fromTest.Replace(out), "\n"), "\n")
	if i, line := compareShown(c.output, got); i >= 0 {
		shown := "(nothing more)"
		if i < len(c.output) {
			shown = c.output[i]
		}
		t.Errorf("%s:%d differs from what %s prints:\ndoc:    %q\nnsdump: %q\n(whole output:\n%s)", c.file, c.outAt+i, c.line, shown, line, strings.Join(got, "\n"))
	}
}

var (
	rowRE   = regexp.MustCompile("^\\| (`[^|]*`) \\| ([^|]*) \\|")
	fieldRE = regexp.MustCompile("`([a-z_0-9]+)`")
)

// docJSONTypes reads json.md's field tables: each field name with the
// JSON kinds its type cell allows (string, number, bool, array, object,
// null). The tables of command's own section decide; a field only other
// sections document (trace's probes hold read's sightings) takes theirs.
// The keys of the JSON sketch at the head of the section count too, any
// kind.
func docJSONTypes(t *testing.T, command string) map[string]map[string]bool {
	b, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	own, other := map[string]map[string]bool{}, map[string]map[string]bool{}
	add := func(m map[string]map[string]bool, field, cell string) {
		if m[field] == nil {
			m[field] = map[string]bool{}
		}
		for _, kind := range []string{"string", "number", "bool", "array", "object", "null"} {
			if strings.Contains(cell, kind) {
				m[field][kind] = true
			}
		}
	}
	in, sketch := false, false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "## "):
			in, sketch = strings.HasPrefix(l, "## `nsdump "+command+" "), false
		case in && l == "```json":
			sketch = true
		case sketch && l == "```":
			sketch = false
		case sketch:
			for _, k := range sketchKeyRE.FindAllStringSubmatch(l, -1) {
				add(own, k[1], "string number bool array object null")
			}
		}
		m := rowRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		into := other
		if in {
			into = own
		}
		// "`namespace`, `inode` | string, number": one type each
		fields, cells := fieldRE.FindAllStringSubmatch(m[1], -1), strings.Split(m[2], ", ")
		for i, f := range fields {
			cell := m[2]
			if len(cells) == len(fields) {
				cell = cells[i]
			}
			add(into, f[1], cell)
		}
	}
	for f, kinds := range other {
		if own[f] == nil {
			own[f] = kinds
		}
	}
	return own
}

var sketchKeyRE = regexp.MustCompile(`"([a-z_]+)":`)

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

// checkJSONTypes: every field of out (one JSON document a line) that
// json.md documents for the command has a documented type; a field it
// does not document is reported too. facts, which json.md describes apart
// ([trace.md](trace.md)), is not walked.
func checkJSONTypes(t *testing.T, c docCommand, command, out string) {
	types := docJSONTypes(t, command)
	if len(types) < 3 {
		t.Errorf("json.md documents %d fields for %s", len(types), command)
		return
	}
	problems := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				allowed, ok := types[k]
				switch {
				case !ok && !strings.Contains(k, "->") && !strings.Contains(k, ":"): // map keys: directions, KIND:STATUS
					problems[fmt.Sprintf("%s.%s is not in json.md", path, k)] = true
				case ok && !allowed[jsonKind(x)]:
					problems[fmt.Sprintf("%s.%s is %s, json.md says %v", path, k, jsonKind(x), keys(allowed))] = true
				}
				if k != "facts" {
					walk(path+"."+k, x)
				}
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	docs := 0
	// the JSON documents, after any text on standard error before them
	if i := strings.Index(out, "{"); i >= 0 {
		dec := json.NewDecoder(strings.NewReader(out[i:]))
		for {
			var v any
			if dec.Decode(&v) != nil {
				break
			}
			docs++
			walk(command, v)
		}
	}
	if docs == 0 {
		t.Errorf("%s: %s printed no JSON:\n%s", c.where, c.line, out)
	}
	var list []string
	for p := range problems {
		list = append(list, p)
	}
	sort.Strings(list)
	for _, p := range list {
		t.Errorf("%s: %s: %s", c.where, c.line, p)
	}
}

func keys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
