package decode

import (
	"net/netip"
	"testing"
	"time"
)

var (
	cliAddr = netip.MustParseAddr("10.0.1.1")
	srvAddr = netip.MustParseAddr("10.0.2.1")
	epoch   = time.Unix(1_767_225_600, 0)
)

func echoReq(at time.Duration, id, seq uint16) *Packet {
	return &Packet{Time: epoch.Add(at), Kind: KindICMP4, Src: cliAddr, Dst: srvAddr, ICMPType: 8, ID: id, Seq: seq}
}

func echoRep(at time.Duration, id, seq uint16) *Packet {
	return &Packet{Time: epoch.Add(at), Kind: KindICMP4, Src: srvAddr, Dst: cliAddr, ICMPType: 0, ID: id, Seq: seq}
}

func tcpSeg(at time.Duration, toServer bool, cport uint16, flags uint8, seq uint32, payload int) *Packet {
	p := &Packet{Time: epoch.Add(at), Kind: KindTCP, Src: cliAddr, Dst: srvAddr, SrcPort: cport, DstPort: 80, Flags: flags, TCPSeq: seq, PayloadLen: payload}
	if !toServer {
		p.Src, p.Dst, p.SrcPort, p.DstPort = srvAddr, cliAddr, 80, cport
	}
	return p
}

// emitted runs packets through a streaming tracker and returns what it
// emitted, in order.
func emitted(t *Tracker, pkts ...*Packet) []*Exchange {
	var out []*Exchange
	t.Emit = func(ex *Exchange) { out = append(out, ex) }
	for _, p := range pkts {
		t.Add(p)
	}
	t.Flush()
	return out
}

// TestIdleFinishes: an echo request that nothing answers for Idle of
// capture time is finished and streamed before the capture ends; a reply
// after that is a separate exchange.
func TestIdleFinishes(t *testing.T) {
	tr := NewTracker(nil)
	tr.Idle = 10 * time.Second
	var streamed []*Exchange
	tr.Emit = func(ex *Exchange) { streamed = append(streamed, ex) }
	tr.Add(echoReq(0, 1, 1))
	tr.Add(echoReq(5*time.Second, 2, 1))
	if len(streamed) != 0 {
		t.Fatalf("streamed %d exchanges before any was idle", len(streamed))
	}
	tr.Add(echoReq(11*time.Second, 3, 1)) // the first is idle now
	tr.Add(echoReq(11*time.Second+time.Second/2, 4, 1))
	if len(streamed) != 1 || *streamed[0].ID != 1 || streamed[0].Status != StatusUnanswered {
		t.Fatalf("after 11 s: streamed %+v, want the first request, unanswered", streamed)
	}
	tr.Add(echoRep(12*time.Second, 1, 1)) // too late: an answer of its own
	tr.Flush()
	if len(streamed) != 5 || streamed[4].Status != StatusAnswered || streamed[4].Requests != 0 {
		t.Fatalf("got %d exchanges, the late reply %+v", len(streamed), streamed[len(streamed)-1])
	}
}

// TestMaxOpen: past MaxOpen open exchanges the least recently active is
// finished early and counted.
func TestMaxOpen(t *testing.T) {
	tr := NewTracker(nil)
	tr.MaxOpen = 3
	var pkts []*Packet
	for i := 0; i < 10; i++ {
		pkts = append(pkts, echoReq(time.Duration(i)*time.Millisecond, uint16(i), 1))
	}
	pkts = append(pkts, echoRep(10*time.Millisecond, 9, 1)) // the newest still open: answered
	out := emitted(tr, pkts...)
	if len(out) != 10 || tr.Evicted() != 7 || tr.nopen != 0 {
		t.Fatalf("%d exchanges, %d evicted", len(out), tr.Evicted())
	}
	if *out[9].ID != 9 || out[9].Status != StatusAnswered {
		t.Errorf("the open request lost its answer")
	}
}

// TestSightingsCapped: a long connection keeps MaxSightings sightings and
// counts the rest.
func TestSightingsCapped(t *testing.T) {
	pkts := []*Packet{tcpSeg(0, true, 5000, SYN, 100, 0), tcpSeg(1, false, 5000, SYN|ACK, 700, 0), tcpSeg(2, true, 5000, ACK, 101, 0)}
	for i := 0; i < 1000; i++ {
		pkts = append(pkts, tcpSeg(time.Duration(3+i), i%2 == 0, 5000, ACK|PSH, 0, 10))
	}
	out := emitted(NewTracker(nil), pkts...)
	if len(out) != 1 || len(out[0].Seen) != MaxSightings || out[0].SeenMore != 1003-MaxSightings || *out[0].BytesToServer != 5000 {
		t.Fatalf("%d exchanges; seen %d + %d more", len(out), len(out[0].Seen), out[0].SeenMore)
	}
}

// TestSYNRetransmissions: a SYN with the attempt's ISN joins it in every
// state; a new ISN on the same 4-tuple starts a new attempt.
func TestSYNRetransmissions(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		pkts   []*Packet
		status []Status
		reqs   []int
	}{
		{"after the SYN-ACK", []*Packet{tcpSeg(0, true, 1, SYN, 9, 0), tcpSeg(ms, false, 1, SYN|ACK, 70, 0),
			tcpSeg(2*ms, true, 1, SYN, 9, 0), tcpSeg(3*ms, true, 1, ACK, 10, 0)}, []Status{StatusEstablished}, []int{2}},
		{"once established", []*Packet{tcpSeg(0, true, 1, SYN, 9, 0), tcpSeg(ms, false, 1, SYN|ACK, 70, 0),
			tcpSeg(2*ms, true, 1, ACK, 10, 0), tcpSeg(3*ms, true, 1, SYN, 9, 0), tcpSeg(4*ms, true, 1, ACK|PSH, 10, 5)}, []Status{StatusEstablished}, []int{2}},
		{"after each reset", []*Packet{tcpSeg(0, true, 1, SYN, 9, 0), tcpSeg(ms, false, 1, RST|ACK, 0, 0),
			tcpSeg(500*ms, true, 1, SYN, 9, 0), tcpSeg(501*ms, false, 1, RST|ACK, 0, 0),
			tcpSeg(1000*ms, true, 1, SYN, 9, 0), tcpSeg(1001*ms, false, 1, RST|ACK, 0, 0)}, []Status{StatusRefused}, []int{3}},
		{"a new ISN", []*Packet{tcpSeg(0, true, 1, SYN, 9, 0), tcpSeg(ms, false, 1, RST|ACK, 0, 0),
			tcpSeg(500*ms, true, 1, SYN, 99, 0)}, []Status{StatusRefused, StatusUnanswered}, []int{1, 1}},
		{"mid-stream then a SYN", []*Packet{tcpSeg(0, true, 1, ACK, 9, 5), tcpSeg(ms, true, 1, SYN, 9, 0)},
			[]Status{StatusEstablished, StatusUnanswered}, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, streaming := range []bool{false, true} {
				tr := NewTracker(nil)
				var out []*Exchange
				if streaming {
					out = emitted(tr, tt.pkts...)
				} else {
					for _, p := range tt.pkts {
						tr.Add(p)
					}
					out = tr.Exchanges()
				}
				if len(out) != len(tt.status) {
					t.Fatalf("streaming %v: %d exchanges, want %d", streaming, len(out), len(tt.status))
				}
				for i, ex := range out {
					if ex.Status != tt.status[i] || ex.Requests != tt.reqs[i] {
						t.Errorf("streaming %v: exchange %d %s after %d requests, want %s after %d", streaming, i, ex.Status, ex.Requests, tt.status[i], tt.reqs[i])
					}
				}
			}
		})
	}
}

// TestICMPErrorAboutAnswer: an ICMP error that quotes an answer (a hop on
// the way back has no route for it) belongs to the exchange as much as
// one that quotes the request. The SYN-ACK's error joins its connection;
// an echo reply's exchange ended when the reply was first seen, so its
// error stands alone carrying the echo's id and sequence, which tell
// whose it is.
func TestICMPErrorAboutAnswer(t *testing.T) {
	router := netip.MustParseAddr("10.0.2.254")
	unreach := func(at time.Duration, q Quote) *Packet {
		q.Valid = true
		return &Packet{Time: epoch.Add(at), Kind: KindICMP4, Src: router, Dst: srvAddr, ICMPType: 3, ICMPCode: 0, Quote: q}
	}
	synAck := tcpSeg(time.Millisecond, false, 40000, SYN|ACK, 900, 0)
	got := emitted(NewTracker(nil),
		tcpSeg(0, true, 40000, SYN, 100, 0), synAck,
		unreach(2*time.Millisecond, Quote{Proto: 6, Src: srvAddr, Dst: cliAddr, SrcPort: 80, DstPort: 40000, TCPSeq: 900}),
		echoReq(3*time.Millisecond, 7, 1), echoRep(4*time.Millisecond, 7, 1),
		unreach(5*time.Millisecond, Quote{Proto: 1, Src: srvAddr, Dst: cliAddr, ICMPType: 0, ID: 7, Seq: 1}))
	var tcp, echoErr *Exchange
	for _, ex := range got {
		switch ex.Kind {
		case KindTCPConn:
			tcp = ex
		case KindICMPError:
			echoErr = ex
		}
	}
	if tcp == nil || len(tcp.Errors) != 1 || tcp.Errors[0].From != router.String() {
		t.Errorf("the SYN-ACK's error did not join its connection: %+v", tcp)
	}
	if echoErr == nil || echoErr.ID == nil || *echoErr.ID != 7 || *echoErr.Seq != 1 || echoErr.SrcAddr != srvAddr || len(echoErr.Errors) != 1 {
		t.Errorf("the echo reply's error does not say whose it is: %+v", echoErr)
	}
}
