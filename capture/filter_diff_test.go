package capture

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
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

// referenceCompiler finds tcpdump, whose -ddd prints libpcap's program.
func referenceCompiler(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tcpdump")
	if err != nil {
		if os.Getenv("NSDUMP_REQUIRE_ROOT") == "1" {
			t.Fatalf("tcpdump is needed as the reference filter compiler (NSDUMP_REQUIRE_ROOT=1): %v", err)
		}
		t.Skip("tcpdump not installed: no reference compiler to compare with")
	}
	return p
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
	tcpdump := referenceCompiler(t)
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
	work := make(chan *diffCase)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				c.ref, c.refErr = libpcapCompile(tcpdump, c.expr, true)
			}
		}()
	}
	for i := range cases {
		work <- &cases[i]
	}
	close(work)
	wg.Wait()

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
		vm, err := bpf.NewVM(mustDisassemble(t, c.ref))
		if err != nil {
			t.Fatalf("libpcap's program for %q: %v", c.expr, err)
		}
		accepted := 0
		for j, f := range c.frames {
			want := runBPF(c.ref, f, uint32(c.wire[j])) > 0
			if len(f) == c.wire[j] {
				// Our interpreter against x/net/bpf's on libpcap's program.
				if n, _ := vm.Run(f); (n > 0) != want {
					t.Fatalf("interpreters disagree on %q, frame %s", c.expr, hex.EncodeToString(f))
				}
			}
			verdicts++
			got := ours.MatchLen(f, c.wire[j])
			if got != want && unoptimizedAgrees(t, tcpdump, c, j, got) {
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
func unoptimizedAgrees(t *testing.T, tcpdump string, c *diffCase, j int, got bool) bool {
	if c.unopt == nil {
		prog, err := libpcapCompile(tcpdump, c.expr, false)
		if err != nil {
			t.Fatalf("tcpdump -O refuses %q: %v", c.expr, err)
		}
		c.unopt = prog
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
