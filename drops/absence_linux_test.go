package drops

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/btf"
)

// specOf is a BTF spec holding only the given types, as a kernel's would.
func specOf(t *testing.T, types ...btf.Type) *btf.Spec {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// kfreeSkb is btf_trace_kfree_skb with the parameters after the context.
func kfreeSkb(params ...btf.FuncParam) *btf.Typedef {
	void := &btf.Pointer{Target: &btf.Void{}}
	all := append([]btf.FuncParam{{Name: "__data", Type: void}}, params...)
	return &btf.Typedef{Name: "btf_trace_kfree_skb", Type: &btf.Pointer{Target: &btf.FuncProto{Return: &btf.Void{}, Params: all}}}
}

// TestMissingReason: a kernel whose kfree_skb has no reason (before 5.17),
// or no such tracepoint, or no BTF at all, is named as unavailable with
// what is missing, never a crash or a half-working monitor.
func TestMissingReason(t *testing.T) {
	void := &btf.Pointer{Target: &btf.Void{}}
	skb := &btf.Pointer{Target: &btf.Struct{Name: "sk_buff", Size: 8}}
	reasons := &btf.Enum{Name: "skb_drop_reason", Size: 4, Values: []btf.EnumValue{
		{Name: "SKB_NOT_DROPPED_YET", Value: 0}, {Name: "SKB_CONSUMED", Value: 1}, {Name: "SKB_DROP_REASON_NO_SOCKET", Value: 7}}}
	for _, tt := range []struct {
		name  string
		spec  *btf.Spec
		error string
	}{
		{"Linux 5.16: skb and location only", specOf(t, kfreeSkb(btf.FuncParam{Name: "skb", Type: skb}, btf.FuncParam{Name: "location", Type: void})), "carries no drop reason"},
		{"no tracepoint", specOf(t, reasons), "no skb:kfree_skb tracepoint"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := (&layout{}).tracepoint(tt.spec)
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.error) {
				t.Fatalf("error %v, want ErrUnavailable saying %q", err, tt.error)
			}
		})
	}
	t.Run("reasons named from BTF", func(t *testing.T) {
		l := &layout{}
		spec := specOf(t, kfreeSkb(btf.FuncParam{Name: "skb", Type: skb}, btf.FuncParam{Name: "location", Type: void}, btf.FuncParam{Name: "reason", Type: reasons}))
		if err := l.tracepoint(spec); err != nil {
			t.Fatal(err)
		}
		// The numbers are this fake kernel's: nothing is compiled in.
		if l.reason(7) != "NO_SOCKET" || l.consumed != 1 || l.reason(9) != "REASON_9" || l.reason(0x30002) != "SUBSYS_3_REASON_2" || l.nargs != 3 {
			t.Fatalf("reason(7)=%s consumed=%d reason(9)=%s nargs=%d", l.reason(7), l.consumed, l.reason(9), l.nargs)
		}
	})
	t.Run("no BTF", func(t *testing.T) {
		saved := kernelSpec
		t.Cleanup(func() { kernelSpec = saved })
		kernelSpec = func() (*btf.Spec, error) { return nil, errors.New("open /sys/kernel/btf/vmlinux: no such file") }
		_, err := Open(nil, nil)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no BTF") {
			t.Fatalf("error %v, want ErrUnavailable saying no BTF", err)
		}
	})
}

// TestUnprivileged: Open in a process without privilege (this test binary
// run again as nobody) says what is missing and what to do.
func TestUnprivileged(t *testing.T) {
	if os.Getenv("NSDUMP_DROPS_CHILD") == "1" {
		m, err := Open([]uint64{1}, nil)
		if err == nil {
			m.Close()
			fmt.Println("opened")
			return
		}
		fmt.Printf("unavailable=%v: %v\n", errors.Is(err, ErrUnavailable), err)
		return
	}
	if os.Getuid() != 0 {
		t.Skip("run as root: the test runs itself as nobody")
	}
	dir, err := os.MkdirTemp("", "nsdump-drops-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "drops.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	cmd := exec.Command(bin, "-test.run=^TestUnprivileged$")
	cmd.Env = append(os.Environ(), "NSDUMP_DROPS_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "unavailable=true") || !strings.Contains(string(out), "CAP_BPF") {
		t.Fatalf("as nobody: %s", out)
	}
	t.Logf("as nobody: %s", strings.SplitN(string(out), "\n", 2)[0])
}
