package judge

import (
	"encoding/json"
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/internal/tracetest"
)

// TestKernelKeys: facts are stored with their kernel state under DESIGN's
// top-level keys (rules_ip, sysctls, bridge_ports, fdb, listeners, and
// addresses, neighbors), every entry naming its namespace, never as a
// "kernel" block; read back, they judge every probe as the facts they
// were written from. A recording written before the move, with its
// "kernel" block, is read as it was written.
func TestKernelKeys(t *testing.T) {
	n := 0
	for name, rec := range tracetest.LoadRecorded(t) {
		if rec.Facts.Kernel == nil {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(rec.Facts)
			if err != nil {
				t.Fatal(err)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(b, &top); err != nil {
				t.Fatal(err)
			}
			if _, ok := top["kernel"]; ok {
				t.Error(`written with a "kernel" block`)
			}
			if _, ok := top["sysctls"]; !ok {
				t.Error("written without sysctls")
			}
			for _, key := range []string{"rules_ip", "sysctls", "bridge_ports", "fdb", "listeners", "addresses", "neighbors"} {
				var entries []map[string]json.RawMessage
				if raw, ok := top[key]; ok {
					if err := json.Unmarshal(raw, &entries); err != nil {
						t.Fatalf("%s: %v", key, err)
					}
				}
				for _, e := range entries {
					if ns := string(e["namespace"]); ns == "" || ns == `""` {
						t.Errorf("an entry of %s names no namespace: %v", key, e)
					}
				}
			}
			var back facts.Facts
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Kernel == nil || len(back.Kernel.States) == 0 {
				t.Fatal("read back without kernel state")
			}
			for _, pf := range rec.Facts.Probes {
				want, got := Judge(rec.Facts, pf), Judge(&back, pf)
				if got.OK != want.OK || got.Cause != want.Cause || got.Namespace != want.Namespace || got.Fix != want.Fix || got.Detail != want.Detail {
					t.Errorf("%s %s IPv%d read back: %s in %s, fix %q (%s); as written: %s in %s, fix %q (%s)", pf.Direction, pf.Kind, pf.Family,
						got.Cause, got.Namespace, got.Fix, got.Detail, want.Cause, want.Namespace, want.Fix, want.Detail)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no recording has kernel state")
	}
}
