package netfilter

import (
	"context"
	"testing"
)

// BenchmarkTracerStartClose measures what tracing costs a namespace: the
// record, the tables and both sockets made, then everything removed. Most of
// it is Close: the kernel's commit of a table deletion waits for an RCU
// grace period (Start is under 1 ms), so a trace closes its namespaces'
// tracers concurrently.
func BenchmarkTracerStartClose(b *testing.B) {
	b.Setenv("NSDUMP_STATE_DIR", b.TempDir())
	l := newRouted(b)
	ns := l.ns(b, l.R)
	probes := []Probe{
		{Src: l.CAddr, Dst: l.SAddr, Proto: ProtoICMP, ICMPID: 1, HasID: true},
		{Src: l.CAddr, Dst: l.SAddr, Proto: ProtoTCP, SrcPort: 40000, DstPort: 7096},
	}
	b.ReportAllocs()
	for b.Loop() {
		tr, err := Start(context.Background(), ns, probes, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := tr.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
