package netfilter

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology"
)

// hasTable says whether ns has the table, as nft lists it.
func hasTable(t *testing.T, ns string, tb Table) bool {
	t.Helper()
	return slices.Contains(strings.Split(strings.TrimSpace(listTables(t, ns)), "\n"), "table "+tb.String())
}

func probeOf(l *routed) Probe {
	return Probe{Src: l.CAddr, Dst: l.SAddr, Proto: ProtoICMP, ICMPID: 7, HasID: true}
}

func TestCloseRemovesTablesAndRecords(t *testing.T) {
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	l := newRouted(t)
	tr, err := Start(context.Background(), l.ns(t, l.R), []Probe{probeOf(l)}, &Config{Bridge: true})
	if err != nil {
		t.Fatal(err)
	}
	tables := tr.Tables()
	if len(tables) != 2 || tables[0].Family != FamilyInet || tables[1].Family != FamilyBridge {
		t.Fatalf("tables %v, want an inet and a bridge one", tables)
	}
	for _, tb := range tables {
		if !hasTable(t, l.R, tb) {
			t.Fatalf("%s is not in %s: %s", tb, l.R, listTables(t, l.R))
		}
	}
	if rs := readRecords(); len(rs) != 2 {
		t.Fatalf("records while tracing: %+v", rs)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if hasTable(t, l.R, tb) {
			t.Fatalf("%s is still in %s after Close", tb, l.R)
		}
	}
	if rs := readRecords(); len(rs) != 0 {
		t.Fatalf("records after Close: %+v", rs)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

func TestCancelRemovesTables(t *testing.T) {
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	l := newRouted(t)
	ctx, cancel := context.WithCancel(context.Background())
	tr, err := Start(ctx, l.ns(t, l.R), []Probe{probeOf(l)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := tr.Tables()[0]
	cancel()
	// Close waits for the cancellation's own Close, whichever runs first.
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if hasTable(t, l.R, tb) || len(readRecords()) != 0 {
		t.Fatalf("after cancel: %s, records %+v", listTables(t, l.R), readRecords())
	}
}

// TestKilledTracerLeftovers kills, with SIGKILL, a process that holds a
// table (this test binary run again as a child), then lets --leftovers'
// code clean up: an owner-bound table went with the process and only its
// record is left; a table made without the owner flag (older kernels) is
// found in its namespace and deleted.
func TestKilledTracerLeftovers(t *testing.T) {
	l := newRouted(t)
	for _, ownedTable := range []bool{true, false} {
		t.Run(fmt.Sprintf("owned=%v", ownedTable), func(t *testing.T) {
			state := t.TempDir()
			t.Setenv("NSDUMP_STATE_DIR", state)
			tb := startChild(t, l, ownedTable)
			if got := hasTable(t, l.R, tb); got == ownedTable {
				t.Fatalf("after the kill, %s in %s: %v (owner-bound: %v)", tb, l.R, got, ownedTable)
			}
			left := Leftovers()
			if len(left) != 1 || left[0].Table != tb {
				t.Fatalf("leftovers %+v, want %s", left, tb)
			}
			done, err := RemoveLeftovers()
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if !ownedTable {
				want = []string{fmt.Sprintf("nft delete table %s (in %s)", tb, l.R)}
			}
			if !slices.Equal(done, want) {
				t.Fatalf("RemoveLeftovers: %q, want %q", done, want)
			}
			if hasTable(t, l.R, tb) || len(readRecords()) != 0 || len(Leftovers()) != 0 {
				t.Fatalf("after RemoveLeftovers: %s, records %+v", listTables(t, l.R), readRecords())
			}
		})
	}
}

// startChild runs this test binary as a tracer in l.R, waits until its
// table is made, kills it with SIGKILL and returns the table's name.
func startChild(t *testing.T, l *routed, ownedTable bool) Table {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTracer$")
	cmd.Env = append(os.Environ(), "NSDNF_CHILD_NS="+l.R, fmt.Sprintf("NSDNF_CHILD_OWNED=%v", ownedTable),
		"NSDNF_CHILD_PROBE="+l.CAddr.String()+","+l.SAddr.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The child waits on this pipe: it neither exits nor closes a thing
	// before the kill.
	hold, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	fam, name, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "table ")), " ")
	if err != nil || !ok {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	f, _ := ParseFamily(fam)
	tb := Table{Family: f, Name: name}
	if !hasTable(t, l.R, tb) {
		t.Fatalf("the child's %s is not in %s", tb, l.R)
	}
	cmd.Process.Kill() // SIGKILL: no Close, no cancellation
	cmd.Wait()
	return tb
}

// TestHelperTracer is the child of TestKilledTracerLeftovers: it traces in
// a namespace, says which table it made, and waits to be killed.
func TestHelperTracer(t *testing.T) {
	nsName := os.Getenv("NSDNF_CHILD_NS")
	if nsName == "" {
		t.Skip("runs as TestKilledTracerLeftovers' child only")
	}
	owned = os.Getenv("NSDNF_CHILD_OWNED") == "true"
	h, err := topology.OpenNamespace(nsName)
	if err != nil {
		t.Fatal(err)
	}
	src, dst, _ := strings.Cut(os.Getenv("NSDNF_CHILD_PROBE"), ",")
	p, err := parseProbeAddrs(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Start(context.Background(), Namespace{Handle: h, Name: nsName}, []Probe{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("table %s\n", tr.Tables()[0])
	os.Stdin.Read(make([]byte, 1)) // the parent kills us before this returns
	t.Fatal("the parent closed the pipe instead of killing the child")
}

// deadPID is the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestLeftoverRecordsThatClaimNothing: a run killed between its record and
// its table leaves a record only, dropped silently; a record naming another
// namespace's cookie on the same inode never deletes that namespace's table.
func TestLeftoverRecordsThatClaimNothing(t *testing.T) {
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	l := newRouted(t)
	owned = false
	t.Cleanup(func() { owned = true })
	tr, err := Start(context.Background(), l.ns(t, l.R), []Probe{probeOf(l)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tb := tr.Tables()[0]
	real := readRecords()[0]

	never := real
	never.Table.Name, never.PID, never.Start = tableName(deadPID(t), 1), deadPID(t), 1
	if err := never.write(); err != nil {
		t.Fatal(err)
	}
	reused := real
	reused.PID, reused.Start, reused.Cookie = deadPID(t), 1, real.Cookie+1
	if err := reused.write(); err != nil { // replaces the live record: same file
		t.Fatal(err)
	}
	if left := Leftovers(); len(left) != 2 {
		t.Fatalf("leftovers %+v, want the two dead records", left)
	}
	done, err := RemoveLeftovers()
	if err != nil || len(done) != 0 {
		t.Fatalf("RemoveLeftovers: %q %v, want nothing deleted", done, err)
	}
	if !hasTable(t, l.R, tb) {
		t.Fatalf("RemoveLeftovers deleted %s, which a record with another cookie named", tb)
	}
	if rs := readRecords(); len(rs) != 0 {
		t.Fatalf("records left: %+v", rs)
	}
}

// TestStartRefusesBadProbes before any system call: no root needed,
// nothing recorded.
func TestStartRefusesBadProbes(t *testing.T) {
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	ns := Namespace{Handle: -1, Name: "nowhere"}
	for _, probes := range [][]Probe{nil, {{Proto: ProtoTCP}}} {
		if _, err := Start(context.Background(), ns, probes, nil); !errors.Is(err, ErrBadProbe) {
			t.Errorf("Start with %+v: %v, want ErrBadProbe", probes, err)
		}
	}
	if rs := readRecords(); len(rs) != 0 {
		t.Fatalf("records: %+v", rs)
	}
}
