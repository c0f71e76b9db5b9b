package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/trace"
	"github.com/nsdump/nsdump/trace/facts"
)

// readJSON is what the tests read of `read --json`.
type readJSON struct {
	Packets  int        `json:"packets"`
	Rejudged []rejudged `json:"rejudged"`
	Warnings []string   `json:"warnings"`
}

// fileBlocks lists a capture file's frames and Custom Blocks as nsdump's
// reader sees them.
func fileBlocks(t *testing.T, name string) (frames int, custom []capture.CustomBlock) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			return frames, r.Custom()
		}
		if err != nil {
			t.Fatal(err)
		}
		frames++
	}
}

// toolStderr is what tcpdump or tshark said on stderr besides where it
// reads from and that it runs as root.
func toolStderr(stderr, file string) string {
	for _, said := range []string{"reading from file " + file + ", link-type EN10MB (Ethernet), snapshot length 262144",
		`Running as user "root" and group "root". This could be dangerous.`} {
		stderr = strings.ReplaceAll(stderr, said, "")
	}
	return strings.TrimSpace(stderr)
}

// TestTraceFactsReadBack: a trace of a lab whose B has no route back,
// written with -w, holds its facts; read judges them again to the very
// verdicts the trace gave, and tshark and tcpdump read the file as before.
func TestTraceFactsReadBack(t *testing.T) {
	l := labtest.New(t, "rc", false)
	if out, err := exec.Command("ip", "-n", l.NS0, "route", "add", l.Addr1.Masked().String(), "dev", l.Veth0).CombinedOutput(); err != nil {
		t.Fatalf("route in %s: %v %s", l.NS0, err, out)
	}
	file := filepath.Join(t.TempDir(), "trace.pcapng")
	out, e, code := nsdump("trace", l.NS0, l.NS1, "--count", "2", "--timeout", "500ms", "-w", file, "--json")
	if code != 1 {
		t.Fatalf("trace: exit %d, want 1\n%s\n%s", code, out, e)
	}
	var res trace.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, p := range res.Probes {
		if p.Direction == l.NS0+"->"+l.NS1 && p.Kind == "icmp-echo" && (p.Cause != facts.CauseNoReturnRoute || p.Namespace != l.NS1) {
			t.Fatalf("the lab's echo: %s in %s, want no-return-route in %s", p.Cause, p.Namespace, l.NS1)
		}
		if !p.OK {
			failed++
		}
	}

	frames, custom := fileBlocks(t, file)
	if len(custom) != 1 || custom[0].PEN != facts.FactsPEN || !bytes.HasPrefix(custom[0].Data, []byte(`{"nsdump_facts":1,`)) {
		t.Fatalf("%d custom blocks in the file, want one of facts", len(custom))
	}

	out, e, code = nsdump("read", "--json", file)
	if code != 0 || e != "" {
		t.Fatalf("read --json: exit %d, %s", code, e)
	}
	var rj readJSON
	if err := json.Unmarshal([]byte(out), &rj); err != nil {
		t.Fatal(err)
	}
	if len(rj.Rejudged) != 1 || len(rj.Rejudged[0].Probes) != len(res.Probes) || rj.Rejudged[0].Version != facts.FactsVersion {
		t.Fatalf("rejudged: %+v, want the trace's %d probes", rj.Rejudged, len(res.Probes))
	}
	for i, p := range rj.Rejudged[0].Probes {
		live := res.Probes[i]
		if p.Direction != live.Direction || p.Kind != live.Kind || p.OK != live.OK || p.Cause != live.Cause || p.Namespace != live.Namespace || p.Fix != live.Fix ||
			p.Detail != live.Detail || p.Differs || p.Recorded == nil {
			t.Errorf("judged again: %s %s %s in %s (%q), differs %v; the trace: %s %s %s in %s (%q)",
				p.Direction, p.Kind, p.Cause, p.Namespace, p.Fix, p.Differs, live.Direction, live.Kind, live.Cause, live.Namespace, live.Fix)
		}
	}
	text, e, code := nsdump("read", file)
	if code != 0 || e != "" {
		t.Fatalf("read: exit %d, %s", code, e)
	}
	if !strings.Contains(text, "judged again from the facts stored in "+file) || !strings.Contains(text, "FAIL  no-return-route in "+l.NS1) ||
		!strings.Contains(text, "some probes failed, as recorded") || strings.Contains(text, "DIFFERS") {
		t.Errorf("read does not show the verdicts judged again, as recorded:\n%s", text)
	}

	t.Run("tshark", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("tshark", "-r", file, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.len")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || toolStderr(stderr.String(), file) != "" {
			t.Fatalf("tshark -r: %v, stderr %q", err, stderr.String())
		}
		packets, others := 0, 0
		for _, row := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			if name, _, _ := strings.Cut(row, "\t"); name != "" {
				packets++
			} else {
				others++ // the Custom Block, a record of its own without an interface
			}
		}
		if packets != frames || others != 1 {
			t.Errorf("tshark lists %d packets and %d other records; nsdump wrote %d packets and one facts block", packets, others, frames)
		}
	})
	t.Run("tcpdump", func(t *testing.T) {
		// Drops are Ethernet frames as the interfaces are: tcpdump reads
		// the whole file, facts block included.
		if n := tcpdumpCount(t, file); n != frames {
			t.Errorf("tcpdump lists %d packets; the file holds %d", n, frames)
		}
	})
}

// factsFile writes a pcapng file without packets holding the blocks
// under pen.
func factsFile(t *testing.T, pen uint32, blocks ...[]byte) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := capture.NewNgWriter(&buf, nil, "nsdump trace")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.WriteCustom(pen, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "facts.pcapng")
	if err := os.WriteFile(name, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// recordedFacts is a trace's recorded facts (trace/testdata/facts) as
// trace -w stores them, after edit.
func recordedFacts(t *testing.T, name string, edit func(*facts.Record)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "trace", "testdata", "facts", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	rec := facts.Record{Version: facts.FactsVersion}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Version = facts.FactsVersion
	if edit != nil {
		edit(&rec)
	}
	if b, err = json.Marshal(rec); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadRejudgesEditedFacts: facts edited in a file (the router's way
// out toward B set down) are judged to the verdict they now call for, and
// read says, per probe, that it differs from the one recorded.
func TestReadRejudgesEditedFacts(t *testing.T) {
	var router, out string
	down := func(rec *facts.Record) {
		h := rec.Facts.Probes[0].Path[1]
		router, out = h.Namespace, h.Out
		for _, st := range rec.Facts.Namespaces {
			if st.Name == router {
				st.Link(out).Up = false
			}
		}
	}
	file := factsFile(t, facts.FactsPEN, recordedFacts(t, "router-forwarding-off", down))
	text, e, code := nsdump("read", file)
	if code != 0 || e != "" {
		t.Fatalf("read: exit %d, %s", code, e)
	}
	for _, want := range []string{"FAIL  link-down in " + router, "fix:  ip -n " + router + " link set " + out + " up",
		"DIFFERS from the verdict recorded: dropped in " + router + "; fix recorded: \"ip netns exec " + router + " sysctl -w net.ipv4.ip_forward=1\"",
		"some probes failed; 2 of 4 verdicts differ from the ones recorded"} {
		if !strings.Contains(text, want) {
			t.Errorf("read lacks %q:\n%s", want, text)
		}
	}
	js, _, _ := nsdump("read", "--json", file)
	var rj readJSON
	if err := json.Unmarshal([]byte(js), &rj); err != nil {
		t.Fatal(err)
	}
	differ := 0
	for _, p := range rj.Rejudged[0].Probes {
		if p.Differs {
			differ++
			if p.Cause != facts.CauseLinkDown || p.Recorded.Cause != facts.CauseDropped {
				t.Errorf("%s %s: %s, recorded %s", p.Direction, p.Kind, p.Cause, p.Recorded.Cause)
			}
		}
	}
	if differ != 2 {
		t.Errorf("%d probes differ in JSON, want 2", differ)
	}
	// Unedited, the same file reads as recorded.
	text, _, _ = nsdump("read", factsFile(t, facts.FactsPEN, recordedFacts(t, "router-forwarding-off", nil)))
	if !strings.Contains(text, "some probes failed, as recorded") || strings.Contains(text, "DIFFERS") {
		t.Errorf("the unedited facts do not read as recorded:\n%s", text)
	}
}

// TestReadHostileFacts: stored facts that are cut, of the wrong types or
// of a later version cost one warning line, never the read; blocks of
// other tools are left alone.
func TestReadHostileFacts(t *testing.T) {
	good := recordedFacts(t, "router-missing-route-back", nil)
	later := bytes.Replace(good, []byte(`{"nsdump_facts":1`), []byte(`{"nsdump_facts":2`), 1)
	for _, tt := range []struct {
		name    string
		pen     uint32
		data    []byte
		warning string // "" for none
		judged  bool
	}{
		{"cut short", facts.FactsPEN, good[:len(good)/3], "stored facts not judged again: not nsdump facts", false},
		{"wrong types", facts.FactsPEN, []byte(`{"nsdump_facts":1,"facts":{"probes":{"a":1}}}`), "stored facts not judged again: stored facts (version 1) unreadable", false},
		{"a later version", facts.FactsPEN, later, "stored by a later nsdump (version 2; this one reads up to 1)", true},
		{"another tool's binary block", facts.FactsPEN, []byte{0xde, 0xad, 0xbe, 0xef}, "", false},
		{"another enterprise's block", 12345, good, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := factsFile(t, tt.pen, tt.data)
			text, e, code := nsdump("read", file)
			if code != 0 {
				t.Fatalf("read: exit %d, %s", code, e)
			}
			lines := strings.Split(strings.TrimSpace(e), "\n")
			switch {
			case tt.warning == "" && e != "":
				t.Errorf("stderr %q, want nothing", e)
			case tt.warning != "" && (len(lines) != 1 || !strings.HasPrefix(lines[0], "nsdump: warning: "+file+": ") || !strings.Contains(lines[0], tt.warning)):
				t.Errorf("stderr %q, want one warning line with %q", e, tt.warning)
			}
			if judged := strings.Contains(text, "judged again from the facts"); judged != tt.judged {
				t.Errorf("judged again: %v, want %v:\n%s", judged, tt.judged, text)
			}
			js, _, _ := nsdump("read", "--json", file)
			var rj readJSON
			if err := json.Unmarshal([]byte(js), &rj); err != nil {
				t.Fatalf("read --json is not JSON: %v\n%s", err, js)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.warning != ""]; len(rj.Warnings) != want {
				t.Errorf("JSON warnings %q, want %d", rj.Warnings, want)
			}
		})
	}
}

// TestReadRecordedFacts pins the judgement of facts recorded by a live
// trace (scripts/record-testdata.sh): B's input rule drops what A sends,
// and B's own probes' answers; read names the stored rule and its fix,
// as the trace did.
func TestReadRecordedFacts(t *testing.T) {
	file := filepath.Join("..", "..", "testdata", "traces", "facts-firewall-drop.pcapng")
	text, e, code := nsdump("read", file)
	if code != 0 || e != "" {
		t.Fatalf("read: exit %d, %s", code, e)
	}
	_, judged, _ := strings.Cut(text, "judged again from the facts stored in "+file+" (facts version 1):")
	if n := strings.Count(judged, "FAIL  dropped in tdata-b"); n != 4 {
		t.Errorf("%d of 4 probes judged dropped in tdata-b:\n%s", n, judged)
	}
	if n := strings.Count(judged, `nftables rule "ip saddr 192.168.50.1 drop" (inet nsdump_td in handle 2, hook input) in tdata-b`); n != 4 {
		t.Errorf("%d of 4 probes name the stored rule:\n%s", n, judged)
	}
	if n := strings.Count(judged, "fix:  ip netns exec tdata-b nft delete rule inet nsdump_td in handle 2"); n != 4 {
		t.Errorf("%d of 4 probes have the rule's fix:\n%s", n, judged)
	}
	if !strings.HasSuffix(judged, "some probes failed, as recorded\n") {
		t.Errorf("the judgement does not end as recorded:\n%s", judged)
	}
}
