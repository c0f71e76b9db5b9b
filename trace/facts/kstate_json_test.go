package facts

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestKernelKeysLegacy: a "kernel" block of states, as files written
// before the top-level keys hold it, is read into the same kernel state;
// with the keys present, the keys win.
func TestKernelKeysLegacy(t *testing.T) {
	legacy := `{"kernel":{"states":[{"namespace":"m","settings":{"namespace":"m","ip_forward":1},"neighbors":[{"dev":"pa","addr":"10.0.0.1","state":"FAILED"}]}]}}`
	var f Facts
	if err := json.Unmarshal([]byte(legacy), &f); err != nil {
		t.Fatal(err)
	}
	if f.Kernel == nil || len(f.Kernel.States) != 1 || f.Kernel.States[0].Settings.IPForward != 1 || len(f.Kernel.States[0].Neighbors) != 1 {
		t.Fatalf("legacy block read as %+v", f.Kernel)
	}
	both := strings.Replace(legacy, `{"kernel"`, `{"sysctls":[{"namespace":"b","ip_forward":0}],"kernel"`, 1)
	f = Facts{}
	if err := json.Unmarshal([]byte(both), &f); err != nil {
		t.Fatal(err)
	}
	if f.Kernel == nil || len(f.Kernel.States) != 1 || f.Kernel.States[0].Namespace != "b" {
		t.Fatalf("keys and a legacy block read as %+v, want the keys' state of b", f.Kernel)
	}
	f = Facts{}
	if err := json.Unmarshal([]byte(`{"probes":[]}`), &f); err != nil || f.Kernel != nil {
		t.Fatalf("facts without kernel state read as %+v (%v)", f.Kernel, err)
	}
}
