package decode

import (
	"net/netip"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// Exchange kinds and statuses, as DESIGN.md names them.
const (
	KindEcho      = "icmp-echo"
	KindEcho6     = "icmp6-echo"
	KindTCPConn   = "tcp"
	KindARPRes    = "arp"
	KindNDP       = "ndp"
	KindICMPError = "icmp-error"

	StatusAnswered    = "answered"
	StatusUnanswered  = "unanswered"
	StatusEstablished = "established"
	StatusRefused     = "refused"
	StatusError       = "error" // an ICMP error came back
)

// Sighting is one place and time a packet of an exchange was seen.
type Sighting struct {
	Point string    `json:"point"`
	Dir   string    `json:"dir"`
	Time  time.Time `json:"time"`
	What  string    `json:"what"`
}

// ICMPErr is an ICMP error that quoted a packet of the exchange.
type ICMPErr struct {
	From string `json:"from"`
	Type uint8  `json:"type"`
	Code uint8  `json:"code"`
	Text string `json:"text"`
}

// Exchange is one request and what answered it. Fields that do not apply
// to a kind stay empty.
type Exchange struct {
	Kind   string `json:"kind"`
	Status string `json:"status"`
	Src    string `json:"src"`
	Dst    string `json:"dst"`

	ID       *uint16  `json:"id,omitempty"`
	Seq      *uint16  `json:"seq,omitempty"`
	RTTms    *float64 `json:"rtt_ms,omitempty"`
	Requests int      `json:"requests,omitempty"` // echo requests, SYNs or ARP/NS requests, retries included
	Answer   string   `json:"answer,omitempty"`   // the MAC an ARP or NDP answer gave

	ISN           *uint32 `json:"isn,omitempty"`
	SynSeen       *bool   `json:"syn_seen,omitempty"`
	SynAckSeen    bool    `json:"syn_ack_seen,omitempty"` // answered, though the handshake may not have completed
	BytesToServer *int    `json:"bytes_to_server,omitempty"`
	BytesToClient *int    `json:"bytes_to_client,omitempty"`
	Close         string  `json:"close,omitempty"` // fin, rst, open

	Errors   []ICMPErr  `json:"icmp_errors,omitempty"`
	Seen     []Sighting `json:"seen"`
	Start    time.Time  `json:"start"`
	state    tcpState   // TCP progress
	fins     uint8      // FIN seen from the client (1) and the server (2)
	key      tcpKey     // its entry in the TCP table
	req      time.Time  // first request
	last     int64      // last packet, ns since the epoch: expiry and linger
	order    uint64     // creation order
	finished bool
	vals     struct { // what the pointer fields point at: one allocation per exchange
		id, seq            uint16
		rtt                float64
		isn                uint32
		syn                bool
		toServer, toClient int
	}
}

func (e *Exchange) setEcho(id, seq uint16) {
	e.vals.id, e.vals.seq = id, seq
	e.ID, e.Seq = &e.vals.id, &e.vals.seq
}

func (e *Exchange) setRTT(d time.Duration) {
	e.vals.rtt = float64(d.Microseconds()) / 1000
	e.RTTms = &e.vals.rtt
}

func (e *Exchange) setTCP(synSeen bool) {
	e.vals.syn = synSeen
	e.SynSeen, e.BytesToServer, e.BytesToClient = &e.vals.syn, &e.vals.toServer, &e.vals.toClient
}

type tcpState uint8

const (
	tcpSyn tcpState = iota
	tcpSynAck
	tcpEstablished
	tcpClosed
)

func (e *Exchange) see(p *Packet, points []capture.Point, what string) {
	name := ""
	if p.Point >= 0 && p.Point < len(points) {
		name = points[p.Point].Name
	}
	e.Seen = append(e.Seen, Sighting{Point: name, Dir: p.Dir.String(), Time: p.Time, What: what})
	e.last = p.Time.UnixNano()
}

func ptr[T any](v T) *T { return &v }

// Table keys hold addresses as plain bytes: one memory hash per lookup,
// where netip.AddrPort fields cost a hash call each.
type echoKey struct {
	src, dst [16]byte
	id, seq  uint16
}

func mkEchoKey(src, dst netip.Addr, id, seq uint16) echoKey {
	return echoKey{src.As16(), dst.As16(), id, seq}
}

type tcpKey struct {
	client, server [16]byte
	cport, sport   uint16
}

func mkTCPKey(client, server netip.AddrPort) tcpKey {
	return tcpKey{client.Addr().As16(), server.Addr().As16(), client.Port(), server.Port()}
}

type resKey struct {
	requester, target netip.Addr
}
