package facts

import (
	"encoding/json"
	"testing"
)

// TestWordsJSONAsStrings: causes and probe kinds are types for the code
// and plain strings in JSON, byte for byte as before they were types (as
// map keys too), and a name this nsdump does not know reads as written.
func TestWordsJSONAsStrings(t *testing.T) {
	for _, s := range []string{"ok", "no-route", "icmp6-echo", "a later cause", "<&>", ""} {
		want, _ := json.Marshal(map[string]string{s: s})
		for _, v := range []any{map[Cause]Cause{Cause(s): Cause(s)}, map[ProbeKind]ProbeKind{ProbeKind(s): ProbeKind(s)}} {
			got, err := json.Marshal(v)
			if err != nil || string(got) != string(want) {
				t.Errorf("%T of %q: %s, %v; want %s", v, s, got, err, want)
			}
		}
		var c map[Cause]Cause
		var k map[ProbeKind]ProbeKind
		if err := json.Unmarshal(want, &c); err != nil || c[Cause(s)] != Cause(s) {
			t.Errorf("cause %q read back as %v, %v", s, c, err)
		}
		if err := json.Unmarshal(want, &k); err != nil || k[ProbeKind(s)] != ProbeKind(s) {
			t.Errorf("kind %q read back as %v, %v", s, k, err)
		}
	}
}
