package decode

import (
	"net/netip"
	"strconv"
	"testing"
	"time"
)

func datagram(at time.Duration, toServer bool, cport, sport uint16) *Packet {
	p := &Packet{Time: epoch.Add(at), Kind: KindUDP, Src: cliAddr, Dst: srvAddr, SrcPort: cport, DstPort: sport}
	if !toServer {
		p.Src, p.Dst, p.SrcPort, p.DstPort = srvAddr, cliAddr, sport, cport
	}
	return p
}

// TestUDPExchanges: a datagram and the first one back are one exchange
// (retries before the answer join it); port 53 makes it dns; an ICMP
// port unreachable quoting a datagram attaches to its exchange.
func TestUDPExchanges(t *testing.T) {
	unreachable := &Packet{Time: epoch.Add(40 * time.Millisecond), Kind: KindICMP4, Src: srvAddr, Dst: cliAddr, ICMPType: 3, ICMPCode: 3,
		Quote: Quote{Valid: true, Src: cliAddr, Dst: srvAddr, Proto: 17, SrcPort: 40001, DstPort: 9}}
	tests := []struct {
		name string
		pkts []*Packet
		want []string // kind status requests src>dst whats
	}{
		{"echoed twice", []*Packet{datagram(0, true, 40000, 7), datagram(time.Millisecond, false, 40000, 7), datagram(20*time.Millisecond, true, 40000, 7), datagram(21*time.Millisecond, false, 40000, 7)},
			[]string{"udp answered 1 10.0.1.1:40000>10.0.2.1:7 request,reply", "udp answered 1 10.0.1.1:40000>10.0.2.1:7 request,reply"}},
		{"a late echo joins the answered exchange; the flow never turns", []*Packet{datagram(0, true, 40000, 7), datagram(20*time.Millisecond, true, 40000, 7),
			datagram(21*time.Millisecond, false, 40000, 7), datagram(22*time.Millisecond, false, 40000, 7), datagram(40*time.Millisecond, true, 40000, 7), datagram(41*time.Millisecond, false, 40000, 7)},
			[]string{"udp answered 2 10.0.1.1:40000>10.0.2.1:7 request,request,reply,reply", "udp answered 1 10.0.1.1:40000>10.0.2.1:7 request,reply"}},
		{"retried, unanswered", []*Packet{datagram(0, true, 40000, 7), datagram(time.Second, true, 40000, 7)},
			[]string{"udp unanswered 2 10.0.1.1:40000>10.0.2.1:7 request,request"}},
		{"dns query and response", []*Packet{datagram(0, true, 40000, 53), datagram(time.Millisecond, false, 40000, 53)},
			[]string{"dns answered 1 10.0.1.1:40000>10.0.2.1:53 query,response"}},
		{"dns response alone", []*Packet{datagram(0, false, 40000, 53)},
			[]string{"dns answered 0 10.0.1.1:40000>10.0.2.1:53 response"}},
		{"port unreachable", []*Packet{datagram(0, true, 40001, 9), unreachable},
			[]string{"udp error 1 10.0.1.1:40001>10.0.2.1:9 request,port unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(nil)
			for _, p := range tt.pkts {
				tr.Add(p)
			}
			var got []string
			for _, ex := range tr.Exchanges() {
				whats := ""
				for i, s := range ex.Seen {
					if i > 0 {
						whats += ","
					}
					whats += s.What
				}
				got = append(got, string(ex.Kind)+" "+string(ex.Status)+" "+strconv.Itoa(ex.Requests)+" "+ex.Src+">"+ex.Dst+" "+whats)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("exchange %d: %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestUDPSightingsKeepTheirSide: the same datagram seen at a second
// capture point is named by its side of the exchange, not "packet".
func TestUDPSightingsKeepTheirSide(t *testing.T) {
	ex := &Exchange{Kind: KindDNS, SrcAddr: cliAddr, SrcPort: 40000, DstAddr: srvAddr, DstPort: 53}
	for _, c := range []struct {
		p    *Packet
		want string
	}{{datagram(0, true, 40000, 53), "query"}, {datagram(0, false, 40000, 53), "response"}} {
		if got := ex.describe(c.p); got != c.want {
			t.Errorf("%v: %q, want %q", netip.AddrPortFrom(c.p.Src, c.p.SrcPort), got, c.want)
		}
	}
}
