package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/shellwords"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/internal/tracetest"
)

// recordOf is a recorded facts file as trace -w stores it.
func recordOf(t testing.TB, rec facts.Record) []byte {
	t.Helper()
	rec.Version = facts.FactsVersion
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordRoundTrip: for every recorded facts file, storing the facts
// as trace -w does and judging them again gives the very verdicts the
// facts give in memory, and those the live trace recorded.
func TestRecordRoundTrip(t *testing.T) {
	for name, rec := range tracetest.LoadRecorded(t) {
		t.Run(name, func(t *testing.T) {
			want := judgeAll(rec.Facts)
			data := recordOf(t, rec)
			// Facts naming a namespace by pid:N (the unnamed ones of a
			// live trace) show no commands when judged from a file.
			unnamed := bytes.Contains(data, []byte(`"pid:`))
			if unnamed {
				for i := range want {
					want[i].Fix, want[i].RouteGet = "", nil
				}
			}
			// trace -w pads the block to 4 bytes with zeros.
			rj, err := Rejudge(append(data, 0, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if rj.Warning != "" || rj.Version != facts.FactsVersion || (rj.Withheld != "") != unnamed {
				t.Errorf("version %d, warning %q, withheld %q", rj.Version, rj.Warning, rj.Withheld)
			}
			if !reflect.DeepEqual(rj.Probes, want) {
				t.Errorf("judged again after the round trip:\n%+v\nin memory:\n%+v", rj.Probes, want)
			}
			for i, p := range rj.Probes {
				if rec, differs := rj.Differs(i); differs {
					t.Errorf("%s %s: %s in %s, fix %q; recorded %s in %s, fix %q", p.Direction, p.Kind, p.Cause, p.Namespace, p.Fix, rec.Cause, rec.Namespace, rec.Fix)
				}
			}
		})
	}
}

// TestRejudgeEditedFacts: a bug report judged again after a fact changed
// (the router's way out toward B set down) gets the verdict of the new
// facts, and says it differs from the one recorded; the other direction,
// which never uses that way out, keeps its verdict.
func TestRejudgeEditedFacts(t *testing.T) {
	rec := tracetest.LoadOne(t, "router-forwarding-off")
	m := rec.Facts.Probes[0].Path[1]
	rec.Facts.State(m.Namespace).Link(m.Out).Up = false
	rj, err := Rejudge(recordOf(t, rec))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range rj.Probes {
		was, differs := rj.Differs(i)
		toB := p.Direction == rec.Facts.Probes[0].Direction
		switch {
		case toB && (p.Cause != facts.CauseLinkDown || p.Namespace != m.Namespace || p.Fix != "ip -n "+m.Namespace+" link set "+m.Out+" up" || !differs):
			t.Errorf("%s %s: %s in %s, fix %q, differs %v; want link-down of %s in %s, differing from %s", p.Direction, p.Kind, p.Cause, p.Namespace, p.Fix, differs, m.Out, m.Namespace, was.Cause)
		case !toB && (p.Cause != facts.CauseDropped || differs):
			t.Errorf("%s %s: %s in %s, differs %v; want dropped (forwarding off) as recorded", p.Direction, p.Kind, p.Cause, p.Namespace, differs)
		}
	}
}

// TestRejudgeHostile: facts that are cut, huge, of the wrong types or of
// an unknown version give one error (or, for a later version, one
// warning and a judgement), never a panic or a stall.
func TestRejudgeHostile(t *testing.T) {
	good := recordOf(t, tracetest.LoadOne(t, "router-missing-route-back"))
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	longPath := `{"nsdump_facts":1,"facts":{"namespaces":[],"lookups":[],"probes":[{"direction":"a","kind":"icmp-echo","path":[` +
		strings.TrimSuffix(strings.Repeat(`{"namespace":"x","role":"router"},`, 9), ",") + `]}]}}`
	for _, tt := range []struct {
		name, data, err string
	}{
		{"empty", "", "not nsdump facts"},
		{"zeros", "\x00\x00\x00\x00", "not nsdump facts"},
		{"not JSON", "{nope", "not nsdump facts"},
		{"cut in half", string(good[:len(good)/2]), "not nsdump facts"},
		{"cut at the end", string(good[:len(good)-1]), "not nsdump facts"},
		{"another object", `{"x":1}`, "not nsdump facts"},
		{"version a string", `{"nsdump_facts":"1","facts":{}}`, "not a version nsdump wrote"},
		{"version zero", `{"nsdump_facts":0,"facts":{}}`, "not a version nsdump wrote"},
		{"version huge", `{"nsdump_facts":1e300,"facts":{}}`, "not a version nsdump wrote"},
		{"no facts", `{"nsdump_facts":1}`, "hold no \"facts\""},
		{"facts a list", `{"nsdump_facts":1,"facts":[]}`, "unreadable"},
		{"probes a string", `{"nsdump_facts":1,"facts":{"probes":"x"}}`, "unreadable"},
		{"a null namespace", `{"nsdump_facts":1,"facts":{"namespaces":[null]}}`, "a namespace is null"},
		{"a null probe path hop", `{"nsdump_facts":1,"facts":{"probes":[{"path":[null]}]}}`, ""},
		{"a direction sideways", `{"nsdump_facts":1,"facts":{"probes":[{"request_seen":[{"dir":"Up"}]}]}}`, "unreadable"},
		{"an address that is not one", `{"nsdump_facts":1,"facts":{"lookups":[{"dst":"10.0.0.300"}]}}`, "unreadable"},
		{"nested deep", `{"nsdump_facts":1,"facts":{"namespaces":` + deep + `}}`, "exceeded max depth"},
		{"a path longer than a trace follows", longPath, "a path of more than 8 namespaces"},
		{"many probes", `{"nsdump_facts":1,"facts":{"probes":[` + strings.TrimSuffix(strings.Repeat(`{},`, 100), ",") + `]}}`, "100 probes"},
		{"too large", `{"nsdump_facts":1,"facts":{"x":"` + strings.Repeat("a", facts.MaxRecord) + `"}}`, "more than the"},
		{"many verdicts", `{"nsdump_facts":1,"facts":{},"verdicts":[` + strings.TrimSuffix(strings.Repeat(`{},`, 100), ",") + `]}`, "100 verdicts"},
		{"no diagnosis, no path", `{"nsdump_facts":1,"facts":{"probes":[{"direction":"a->b","kind":"tcp","ok":false}]}}`, ""},
		{"a later version", strings.Replace(string(good), `{"nsdump_facts":1`, `{"nsdump_facts":7,"new":{"a":[1]}`, 1), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rj, err := Rejudge([]byte(tt.data))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v, want a judgement", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one with %q", err, tt.err)
			case err != nil && (strings.Contains(err.Error(), "\n") || len(err.Error()) > 300):
				t.Errorf("the error is not one short line: %q", err)
			}
			if tt.name == "a later version" && (rj.Warning == "" || strings.Contains(rj.Warning, "\n") || len(rj.Probes) != 4) {
				t.Errorf("a later version: warning %q, %d probes; want one line and the 4 probes judged", rj.Warning, len(rj.Probes))
			}
		})
	}
}

// FuzzRejudge: no stored facts make the judgement panic. The target
// calls the judgement without Rejudge's recover, so a panic fails it.
func FuzzRejudge(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "facts", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.Replace(b, []byte("{"), []byte(`{"nsdump_facts":1,`), 1))
	}
	f.Add([]byte(`{"nsdump_facts":1,"facts":{"probes":[{"kind":"mtu","mtu":{}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, _, err := facts.ReadRecord(data)
		if err != nil {
			return
		}
		judgeAll(rec.Facts)
	})
}

// FuzzRejudgeCommands: whatever a file says, every command a re-judged
// verdict shows (its fix, its route lookup) starts only a program nsdump
// prints, with no shell metacharacter outside quotes.
func FuzzRejudgeCommands(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "facts", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		b = bytes.Replace(b, []byte("{"), []byte(`{"nsdump_facts":1,`), 1)
		f.Add(b)
		f.Add(bytes.ReplaceAll(b, []byte(`"namespace":"nsd`), []byte(`"namespace":"a;id $(x)'`)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rj, err := Rejudge(data)
		if err != nil {
			return
		}
		for _, p := range rj.Probes {
			lines := []string{p.Fix}
			if p.RouteGet != nil {
				lines = append(lines, p.RouteGet.Command)
			}
			for _, l := range lines {
				if _, err := shellwords.Check(l); l != "" && err != nil {
					t.Errorf("%s %s shows %q: %v", p.Direction, p.Kind, l, err)
				}
			}
		}
	})
}

// TestJudgeWorkLinear counts what judging compares. Every recorded trace's
// facts stay well within the budget Rejudge gives stored facts; facts
// crafted so that 64 probes through 6 routers each walk 1,000 rules of
// many prefixes (the shape of the 15 MB file that took a minute, at a
// tenth of its size: the budget is per byte) stop at the budget, within
// one rule walk of it: work linear in the file's size, whatever its shape.
func TestJudgeWorkLinear(t *testing.T) {
	most := 0.0
	for name, rec := range tracetest.LoadRecorded(t) {
		data := recordOf(t, rec)
		judgeAll(rec.Facts)
		if rec.Facts.Work() > len(data)/4 {
			t.Errorf("%s: %d comparisons for %d bytes of facts, more than one in 4 bytes", name, rec.Facts.Work(), len(data))
		}
		most = max(most, float64(rec.Facts.Work())/float64(len(data)))
	}
	t.Logf("recorded traces: at most %.4f comparisons a byte", most)
	data := craftedRules(t, 64, 6, 1000, 100)
	rec, _, err := facts.ReadRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	rec.Facts.SetBudget(workPerByte * len(data))
	judgeAll(rec.Facts)
	if limit := workPerByte*len(data) + len(data); rec.Facts.Work() > limit {
		t.Errorf("%d comparisons judging %d bytes of crafted facts, more than %d", rec.Facts.Work(), len(data), limit)
	}
	if !rec.Facts.OverBudget() {
		t.Errorf("crafted facts judged within %d comparisons: the shape no longer costs what it did", rec.Facts.Work())
	}
	if _, err := Rejudge(data); err == nil || !strings.Contains(err.Error(), "comparisons") {
		t.Errorf("Rejudge of crafted facts: %v, want the budget's error", err)
	}
	t.Logf("%d bytes: %d comparisons", len(data), rec.Facts.Work())
}

// craftedRules are facts of probes from A through routers to B, which
// never arrive, and in every router rules that each hold a condition of
// many prefixes, none matching, in the first router, where the probes
// vanish: each probe walks every rule there.
func craftedRules(t *testing.T, probes, routers, rules, prefixes int) []byte {
	t.Helper()
	names := []string{"A"}
	for i := range routers {
		names = append(names, fmt.Sprintf("R%d", i))
	}
	names = append(names, "B")
	f := &facts.Facts{}
	for _, n := range names {
		f.Namespaces = append(f.Namespaces, &nsstate.NamespaceState{Name: n, Forwarding4: true,
			Links: []nsstate.LinkState{{Name: "in", Up: true, Carrier: true}, {Name: "out", Up: true, Carrier: true}}})
	}
	var path []facts.Hop
	for i, n := range names {
		role := facts.RoleRouter
		switch i {
		case 0:
			role = facts.RoleSource
		case len(names) - 1:
			role = facts.RoleDestination
		}
		path = append(path, facts.Hop{Namespace: n, In: "in", Out: "out", Role: role})
	}
	values := make([]string, prefixes)
	for i := range values {
		values[i] = fmt.Sprintf("172.%d.%d.0/24", 16+i/256, i%256)
	}
	for i := range rules {
		f.Rules = append(f.Rules, facts.Rule{Namespace: names[1], Family: "inet", Table: "t", Chain: "fwd", Hook: "forward",
			Handle: i + 1, Verdict: facts.RuleDrop, Conds: []facts.Cond{{Key: "ip saddr", Op: "==", Values: values}}})
	}
	for i := range probes {
		pkt := facts.Packet{Family: 4, Proto: "icmp", Src: netip.AddrFrom4([4]byte{10, 0, byte(i), 1}), Dst: netip.MustParseAddr("10.9.0.2"), ICMPType: "echo-request"}
		f.Probes = append(f.Probes, facts.ProbeFacts{Direction: "A->B", Kind: "icmp-echo", Family: 4, From: "A", To: "B",
			Path: path, Request: pkt, RequestSeen: []facts.Sight{{Namespace: "A", Iface: "out", Dir: facts.DirOut}}})
	}
	b, err := json.Marshal(facts.Record{Version: facts.FactsVersion, Facts: f})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
