package judge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/internal/tracetest"
)

// TestGapsJudged: what gathering could not read is said in every failed
// verdict whose probe crossed the namespace, never in a passing one or
// one that did not cross it, and travels in the record.
func TestGapsJudged(t *testing.T) {
	recs := tracetest.LoadRecorded(t)
	for _, name := range []string{"router-forwarding-off", "lab-nftables-drop-in-B", "router-healthy"} {
		t.Run(name, func(t *testing.T) {
			rec, ok := recs[name]
			if !ok {
				t.Fatalf("no recorded facts %s", name)
			}
			f := *rec.Facts
			b := f.Probes[0].To
			gap := facts.Gap{What: facts.GapNftables, Namespace: b, Error: `exit status 127: nsenter: failed to execute nft: No such file or directory`}
			elsewhere := facts.Gap{What: facts.GapCounters, Namespace: "nsdrs-elsewhere", Error: "open /proc/net/snmp: permission denied"}
			f.Gaps = []facts.Gap{gap, elsewhere}
			for i, p := range f.Probes {
				was := rec.Verdicts[i]
				v := Judge(&f, p)
				want := was.Detail
				if !was.OK {
					want += "; could not list nftables rules in " + b + ": " + gap.Error
				}
				if v.Detail != want || v.Cause != was.Cause || v.Namespace != was.Namespace || v.Fix != was.Fix {
					t.Errorf("%s %s: %s in %s, fix %q: %q\nwant %s in %s, fix %q: %q", p.Direction, p.Kind, v.Cause, v.Namespace, v.Fix, v.Detail, was.Cause, was.Namespace, was.Fix, want)
				}
			}
			b2, err := json.Marshal(facts.Record{Version: facts.FactsVersion, Facts: &f})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b2), `"gaps":[{"what":"nftables rules","namespace":"`+b+`","error":`) {
				t.Errorf("the record holds no gaps: %.300s", b2)
			}
			back, _, err := facts.ReadRecord(b2)
			if err != nil || len(back.Facts.Gaps) != 2 || back.Facts.Gaps[0] != gap {
				t.Errorf("read back: %v, %+v", err, back.Facts.Gaps)
			}
		})
	}
}
