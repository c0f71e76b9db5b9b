package capture

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/bpf"
)

var (
	filterSeed  = flag.Int64("filterseed", 13, "seed of TestFilterDifferential's random expressions")
	filterCount = flag.Int("filtercount", 3000, "expressions TestFilterDifferential generates")
)

// framesPerExpr frames are built for each expression.
const framesPerExpr = 48

type refResult struct {
	prog []bpf.RawInstruction
	err  error
}

// reference is libpcap's compiler: testdata/pcapc (built here against
// libpcap-dev, one process for every expression) or, without a C compiler
// or libpcap-dev, tcpdump -ddd once per expression.
type reference struct {
	name    string
	pcapc   string
	tcpdump string
}

func referenceCompiler(t *testing.T) *reference {
	t.Helper()
	r := &reference{}
	r.tcpdump, _ = exec.LookPath("tcpdump")
	bin := filepath.Join(t.TempDir(), "pcapc")
	out, err := exec.Command("cc", "-O1", "-o", bin, "testdata/pcapc/pcapc.c", "-lpcap").CombinedOutput()
	switch {
	case err == nil:
		r.pcapc, r.name = bin, "libpcap through testdata/pcapc"
		if r.tcpdump != "" {
			r.sameAsTcpdump(t)
		}
	case r.tcpdump != "":
		r.name = "tcpdump -ddd (no C compiler or libpcap-dev: " + strings.TrimSpace(string(out)) + ")"
	case os.Getenv("NSDUMP_REQUIRE_ROOT") == "1":
		t.Fatalf("libpcap is needed as the reference filter compiler (NSDUMP_REQUIRE_ROOT=1): no tcpdump, and building testdata/pcapc: %v %s", err, out)
	default:
		t.Skipf("no reference filter compiler: no tcpdump, and building testdata/pcapc: %v %s", err, out)
	}
	return r
}

// sameAsTcpdump checks that pcapc gives tcpdump's programs.
func (r *reference) sameAsTcpdump(t *testing.T) {
	exprs := []string{"tcp or udp and port 53", "icmp or arp and host 10.20.9.9", "net 10.0.0.0 mask 255.0.255.0",
		"host ::ffff:1.2.3.4", "vlan 100 and tcp[tcpflags] & tcp-syn != 0", "less 60", "bogus", "ip and not ip"}
	got := r.compile(t, exprs, true)
	for i, e := range exprs {
		want, err := libpcapCompile(r.tcpdump, e, true)
		if (err != nil) != (got[i].err != nil) || fmt.Sprint(want) != fmt.Sprint(got[i].prog) {
			t.Fatalf("pcapc and tcpdump -ddd differ on %q: %v %v / %v %v", e, got[i].prog, got[i].err, want, err)
		}
	}
}

// compile compiles each expression, with libpcap's optimizer or without.
func (r *reference) compile(t *testing.T, exprs []string, optimize bool) []refResult {
	out := make([]refResult, len(exprs))
	if r.pcapc == "" {
		var wg sync.WaitGroup
		next := make(chan int)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					out[i].prog, out[i].err = libpcapCompile(r.tcpdump, exprs[i], optimize)
				}
			}()
		}
		for i := range exprs {
			next <- i
		}
		close(next)
		wg.Wait()
		return out
	}
	var in bytes.Buffer
	for _, e := range exprs {
		if !optimize {
			in.WriteString("O ")
		}
		in.WriteString(e + "\n")
	}
	cmd := exec.Command(r.pcapc)
	cmd.Stdin = &in
	res, err := cmd.Output()
	if err != nil {
		t.Fatalf("pcapc: %v", err)
	}
	lines := strings.Split(string(res), "\n")
	for i := range exprs {
		if len(lines) == 0 {
			t.Fatalf("pcapc stopped after %d of %d expressions", i, len(exprs))
		}
		head := lines[0]
		lines = lines[1:]
		if msg, ok := strings.CutPrefix(head, "err "); ok {
			out[i].err = errors.New(msg)
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(head, "ok "))
		if err != nil || n > len(lines) {
			t.Fatalf("pcapc line %q", head)
		}
		for _, l := range lines[:n] {
			var c, jt, jf, k uint32
			fmt.Sscan(l, &c, &jt, &jf, &k)
			out[i].prog = append(out[i].prog, bpf.RawInstruction{Op: uint16(c), Jt: uint8(jt), Jf: uint8(jf), K: k})
		}
		lines = lines[n:]
	}
	return out
}

// libpcapCompile runs tcpdump -ddd for Ethernet frames; a refused
// expression gives an error with libpcap's message.
func libpcapCompile(tcpdump, expr string, optimize bool) ([]bpf.RawInstruction, error) {
	var out, errb bytes.Buffer
	args := []string{"-ddd", "-y", "EN10MB", expr}
	if !optimize {
		args = append([]string{"-O"}, args...)
	}
	cmd := exec.Command(tcpdump, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var prog []bpf.RawInstruction
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("tcpdump -ddd line %q", l)
		}
		var n [4]uint64
		for i := range f {
			n[i], _ = strconv.ParseUint(f[i], 10, 32)
		}
		prog = append(prog, bpf.RawInstruction{Op: uint16(n[0]), Jt: uint8(n[1]), Jf: uint8(n[2]), K: uint32(n[3])})
	}
	return prog, nil
}

type diffCase struct {
	expr   string
	frames [][]byte
	wire   []int
	ref    []bpf.RawInstruction
	unopt  []bpf.RawInstruction
	refErr error
}

// TestFilterDifferential compiles random expressions with nsdump and with
// libpcap (through tcpdump -ddd) and runs both programs over frames built
// from each expression's atoms: every verdict must agree, and an
// expression libpcap refuses nsdump must refuse too.
func TestFilterDifferential(t *testing.T) {
	g := newExprGen(*filterSeed)
	cases := make([]diffCase, *filterCount)
	for i := range cases {
		g.reset()
		c := &cases[i]
		c.expr = g.expr(3)
		for j := 0; j < framesPerExpr; j++ {
			f, w := g.frame()
			c.frames = append(c.frames, f)
			c.wire = append(c.wire, w)
		}
	}
	ref := referenceCompiler(t)
	exprs := make([]string, len(cases))
	for i := range cases {
		exprs[i] = cases[i].expr
	}
	for i, r := range ref.compile(t, exprs, true) {
		cases[i].ref, cases[i].refErr = r.prog, r.err
	}
	t.Logf("reference compiler: %s", ref.name)

	var compiled, refused, empty, mixed, verdicts, optimized, deadFault, bad int
	for i := range cases {
		c := &cases[i]
		ours, err := CompileFilter(c.expr, LinkEthernet)
		if c.refErr != nil && strings.Contains(c.refErr.Error(), "expression rejects all packets") {
			// libpcap's optimizer proved the expression matches nothing
			// and refuses it; nsdump compiles it, and it must match
			// nothing either.
			empty++
			for j, f := range c.frames {
				if err == nil && ours.MatchLen(f, c.wire[j]) {
					bad++
					t.Errorf("libpcap finds %q matches nothing; nsdump matches frame %s", c.expr, hex.EncodeToString(f))
					break
				}
			}
			continue
		}
		if c.refErr != nil {
			refused++
			if err == nil {
				bad++
				t.Errorf("libpcap refuses %q (%v); nsdump compiles it", c.expr, c.refErr)
			}
			continue
		}
		if err != nil && constantFault(err) {
			// libpcap's optimizer checks folded constants only in code
			// it keeps; nsdump checks them wherever they are.
			deadFault++
			continue
		}
		if err != nil {
			bad++
			t.Errorf("nsdump refuses %q (%v); libpcap compiles it", c.expr, err)
			continue
		}
		compiled++
		// x/net/bpf takes a load at a negative offset (ether[-1]) for
		// an extension it does not implement; runBPF alone judges those.
		vm, vmErr := bpf.NewVM(mustDisassemble(t, c.ref))
		if vmErr != nil && !negativeAbsLoad(c.ref) {
			t.Fatalf("libpcap's program for %q: %v", c.expr, vmErr)
		}
		accepted := 0
		for j, f := range c.frames {
			want := runBPF(c.ref, f, uint32(c.wire[j])) > 0
			if len(f) == c.wire[j] && vmErr == nil {
				// Our interpreter against x/net/bpf's on libpcap's program.
				if n, _ := vm.Run(f); (n > 0) != want {
					t.Fatalf("interpreters disagree on %q, frame %s", c.expr, hex.EncodeToString(f))
				}
			}
			verdicts++
			got := ours.MatchLen(f, c.wire[j])
			if got != want && unoptimizedAgrees(t, ref, c, j, got) {
				// libpcap's optimizer removed a load past the end of this
				// short frame (or added none): unoptimized libpcap, like
				// nsdump, reads the field and rejects the frame.
				optimized++
				continue
			}
			if got != want {
				bad++
				if bad <= 20 {
					t.Errorf("%q: frame %s (wire %d): nsdump %v, libpcap %v", c.expr, hex.EncodeToString(f), c.wire[j], !want, want)
				}
				break
			}
			if want {
				accepted++
			}
		}
		if accepted > 0 && accepted < len(c.frames) {
			mixed++
		}
	}
	t.Logf("seed %d: %d expressions: %d compiled by both (%d with frames on both sides), %d refused by both, %d matching nothing; %d verdicts compared, %d where only libpcap's optimizer differs on a short frame; %d refused by nsdump only for a constant fault in code libpcap's optimizer drops; %d disagreements",
		*filterSeed, len(cases), compiled, mixed, refused, empty, verdicts, optimized, deadFault, bad)
	if compiled < len(cases)/2 || mixed < compiled/4 {
		t.Errorf("the generator is too weak: %d of %d compiled, %d with matching and non-matching frames", compiled, len(cases), mixed)
	}
}

func negativeAbsLoad(prog []bpf.RawInstruction) bool {
	for _, in := range prog {
		if in.Op&0xe7 == 0x20 && int32(in.K) < 0 { // BPF_LD|BPF_ABS
			return true
		}
	}
	return false
}

func constantFault(err error) bool {
	for _, m := range []string{"division by zero", "modulus by zero", "shift by more than 31 bits"} {
		if strings.Contains(err.Error(), m) {
			return true
		}
	}
	return false
}

// unoptimizedAgrees tells whether libpcap without its optimizer (tcpdump
// -O) gives nsdump's verdict on frame j where the optimized program does
// not, on a frame shorter than the fields the expression reads.
func unoptimizedAgrees(t *testing.T, ref *reference, c *diffCase, j int, got bool) bool {
	if c.unopt == nil {
		r := ref.compile(t, []string{c.expr}, false)[0]
		if r.err != nil {
			t.Fatalf("libpcap without its optimizer refuses %q: %v", c.expr, r.err)
		}
		c.unopt = r.prog
	}
	return (runBPF(c.unopt, c.frames[j], uint32(c.wire[j])) > 0) == got
}

func mustDisassemble(t *testing.T, raw []bpf.RawInstruction) []bpf.Instruction {
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("cannot disassemble libpcap's program")
	}
	return insns
}
