package trace

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/internal/tracetest"
	"github.com/nsdump/nsdump/trace/judge"
)

// TestErrorAboutAnswerNamed: a router with no route back sends its ICMP
// error about the probe's answer (the echo reply, the SYN-ACK), not its
// request. The kernel rate-limits those errors, so in a live trace the
// only one captured may be about any probe's packets; whichever it is,
// the probe it is about gets it in its facts and its verdict names it
// (issue 22: "router missing route back" captured the router's net
// unreachable, yet no verdict named it). Pure: the capture is decoded
// from packets made here, the facts are a recorded trace's.
func TestErrorAboutAnswerNamed(t *testing.T) {
	rec := tracetest.LoadRecorded(t)["router-missing-route-back"]
	a, m, b := "nsdpa-a4e5909", "nsdpa-m4e5909", "nsdpa-b4e5909"
	src, dst, router := netip.MustParseAddr("10.96.1.2"), netip.MustParseAddr("10.96.2.2"), netip.MustParseAddr("10.96.2.1")
	points := []capture.Point{{Name: a + "/a0"}, {Name: m + "/pa"}, {Name: m + "/pb"}, {Name: b + "/b0"}}
	const aOut, paIn, pbOut, b0In, b0Out, pbIn, id, cport, port = 0, 1, 2, 3, 3, 2, 0x1234, 40000, 7096
	dir := []capture.Direction{capture.DirOut, capture.DirIn, capture.DirOut, capture.DirIn}
	start := time.Unix(1_800_000_000, 0)
	var pkts []*decode.Packet
	at := func(p decode.Packet, point int, d capture.Direction) {
		p.Time, p.Point, p.Dir = start.Add(time.Duration(len(pkts))*time.Millisecond), point, d
		pkts = append(pkts, &p)
	}
	echoReq := decode.Packet{Kind: decode.KindICMP4, Src: src, Dst: dst, ICMPType: 8, ID: id, Seq: 1}
	echoRep := decode.Packet{Kind: decode.KindICMP4, Src: dst, Dst: src, ICMPType: 0, ID: id, Seq: 1}
	syn := decode.Packet{Kind: decode.KindTCP, Src: src, Dst: dst, SrcPort: cport, DstPort: port, Flags: decode.SYN, TCPSeq: 100}
	synAck := decode.Packet{Kind: decode.KindTCP, Src: dst, Dst: src, SrcPort: port, DstPort: cport, Flags: decode.SYN | decode.ACK, TCPSeq: 900}
	unreach := func(q decode.Quote) decode.Packet {
		q.Valid = true
		return decode.Packet{Kind: decode.KindICMP4, Src: router, Dst: dst, ICMPType: 3, ICMPCode: 0, Quote: q}
	}
	for _, req := range []decode.Packet{echoReq, syn} {
		for pt := aOut; pt <= b0In; pt++ {
			at(req, pt, dir[pt])
		}
	}
	for _, ans := range []decode.Packet{echoRep, synAck} {
		at(ans, b0Out, capture.DirOut)
		at(ans, pbIn, capture.DirIn)
		q := decode.Quote{Proto: 1, Src: dst, Dst: src, ICMPType: 0, ID: id, Seq: 1}
		if ans.Kind == decode.KindTCP {
			q = decode.Quote{Proto: 6, Src: dst, Dst: src, SrcPort: port, DstPort: cport, TCPSeq: 900}
		}
		at(unreach(q), pbOut, capture.DirOut)
		at(unreach(q), b0In, capture.DirIn)
	}
	tr := decode.NewTracker(points)
	var exchanges []*decode.Exchange
	tr.Emit = func(ex *decode.Exchange) { exchanges = append(exchanges, ex) }
	for _, p := range pkts {
		tr.Add(p)
	}
	tr.Flush()

	r := &run{cfg: Config{Count: 3, Port: port}, from: &side{name: a}, to: &side{name: b}, fam: 4, dst: dst, src: src,
		echo: echoResult{ID: id, Sent: 3}, tcp: tcpResult{LocalPort: cport}}
	for i, kind := range []facts.ProbeKind{facts.KindEcho, facts.KindTCP} {
		_, pf, _ := r.probe(kind, exchanges)
		if len(pf.Errors) == 0 || pf.Errors[0].From != router {
			t.Errorf("%s: the router's error about its answer is not in its facts: %+v", kind, pf.Errors)
			continue
		}
		recorded := rec.Facts.Probes[i]
		if recorded.Kind != kind {
			t.Fatalf("recorded probe %d is %s, want %s", i, recorded.Kind, kind)
		}
		recorded.Errors = pf.Errors
		v := judge.Judge(rec.Facts, recorded)
		if want := m + " (10.96.2.1) sent ICMP net unreachable, seen at " + m + "/pb Out"; !strings.Contains(v.Detail, want) {
			t.Errorf("%s: the verdict does not name the error: %s", kind, v.Detail)
		}
		if v.Cause != facts.CauseNoReturnRoute || v.Namespace != m {
			t.Errorf("%s: %s in %s, want %s in %s", kind, v.Cause, v.Namespace, facts.CauseNoReturnRoute, m)
		}
	}
}

// TestErrorAboutEndedConnection: an ICMP error about a segment of the TCP
// probe's connection that decode could not join (its exchange had ended)
// stands alone with the connection's ends; the probe takes it, either
// way round, and leaves another connection's alone.
func TestErrorAboutEndedConnection(t *testing.T) {
	src, dst, router := netip.MustParseAddr("10.96.1.2"), netip.MustParseAddr("10.96.2.2"), netip.MustParseAddr("10.96.2.1")
	r := &run{cfg: Config{Count: 3, Port: 7096}, from: &side{name: "A"}, to: &side{name: "B"}, fam: 4, dst: dst, src: src,
		tcp: tcpResult{LocalPort: 40000}}
	errEx := func(sport, dport uint16) *decode.Exchange {
		return &decode.Exchange{Kind: decode.KindICMPError, Status: decode.StatusError, SrcAddr: dst, SrcPort: sport, DstAddr: src, DstPort: dport,
			Errors: []decode.ICMPErr{{From: router.String(), Type: 3, Text: "net unreachable"}},
			Seen:   []decode.Sighting{{Point: "M/pb", Dir: "Out", What: "net unreachable"}}}
	}
	for _, tt := range []struct {
		name string
		ex   *decode.Exchange
		want int
	}{
		{"about the SYN-ACK", errEx(7096, 40000), 1},
		{"another connection", errEx(7096, 40001), 0},
	} {
		_, pf, _ := r.probe(facts.KindTCP, []*decode.Exchange{tt.ex})
		if len(pf.Errors) != tt.want {
			t.Errorf("%s: %d errors in the probe's facts, want %d: %+v", tt.name, len(pf.Errors), tt.want, pf.Errors)
		}
	}
}
