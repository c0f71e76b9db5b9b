package judge

import (
	"fmt"
	"strconv"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
)

// mtuFacts is what the mtu judgement reads.
type mtuFacts struct {
	ns, to    string
	dev       string // the sender's interface, and its MTU
	mtu       int
	peerNS    string // its veth peer, and the peer's MTU, if known
	peer      string
	peerMTU   int
	sent, got int    // large echo requests tried and answered
	handed    int    // how many the sender's socket took
	small     bool   // the small echo of the same direction passed
	pathMTU   int    // a frag-needed / packet-too-big that reached the sender
	cached    int    // the path MTU the sender's route held from an earlier one
	errFrom   string // who sent it
	tooBig    string // one seen by the capture that did not reach the sender: who and where
	lastSeen  string // the namespace where the large request was last seen
	sendErr   string // what the sender's socket said when it could not send
}

// judgeMTU is the mtu probe's verdict. It is made only when the small echo
// of the same direction passed: otherwise that echo's verdict covers it.
func judgeMTU(m mtuFacts) (p Verdict, judged bool) {
	if !m.small || m.sent == 0 {
		return p, false
	}
	size := fmt.Sprintf("%d-byte echo requests with DF from %s on %s", m.mtu, m.ns, m.dev)
	said := ""
	if m.sendErr != "" {
		// ENOBUFS: the interface dropped the packet (a veth whose peer's MTU is smaller).
		said = fmt.Sprintf("; %s's socket said: %s", m.ns, m.sendErr)
	}
	switch {
	case m.got == m.sent:
		p.OK, p.Cause, p.Namespace = true, facts.CauseOK, m.ns
		p.Detail = fmt.Sprintf("%d/%d replies to %s", m.got, m.sent, size)
	case m.pathMTU > 0:
		// Path-MTU discovery working: the sender learnt the size to use.
		p.OK, p.Cause, p.Namespace = true, facts.CauseOK, m.ns
		p.Detail = fmt.Sprintf("path MTU %d: %s answered the %s with frag-needed / packet-too-big, which reached %s", m.pathMTU, m.errFrom, size, m.ns)
	case m.handed == 0 && m.cached > 0 && m.cached < m.mtu:
		// Path-MTU discovery worked before: the route remembers the size.
		p.OK, p.Cause, p.Namespace = true, facts.CauseOK, m.ns
		p.Detail = fmt.Sprintf("path MTU %d: %s's route to %s holds it from an earlier frag-needed / packet-too-big, so its socket refuses the %s (%s)", m.cached, m.ns, m.to, size, m.sendErr)
	case m.handed == 0 && (m.peerMTU == 0 || m.peerMTU == m.mtu):
		p.Cause, p.Namespace = facts.CauseMTU, m.ns
		p.Detail = fmt.Sprintf("%s refuses to send %s: %s", m.ns, size, m.sendErr)
	case m.peerMTU != 0 && m.peerMTU != m.mtu:
		// Lowering the larger end never breaks what passes today.
		low, highNS, highIf := m.peerMTU, m.ns, m.dev
		if m.mtu < m.peerMTU {
			low, highNS, highIf = m.mtu, m.peerNS, m.peer
		}
		p.Cause, p.Namespace = facts.CauseMTU, highNS
		p.Detail = fmt.Sprintf("the two ends of a veth pair disagree on the MTU: %s/%s has %d, %s/%s has %d; %d/%d replies to %s while small ones pass",
			m.ns, m.dev, m.mtu, m.peerNS, m.peer, m.peerMTU, m.got, m.sent, size) + said
		p.Fix = cmdline.IP(highNS, "link", "set", highIf, "mtu", strconv.Itoa(low)).String()
	default:
		p.Cause, p.Namespace = facts.CauseMTU, m.lastSeen
		p.Detail = fmt.Sprintf("%d/%d replies to %s while small ones pass, and no frag-needed / packet-too-big reached %s (a path-MTU black hole)", m.got, m.sent, size, m.ns)
		if m.tooBig != "" {
			p.Detail += "; " + m.tooBig + ", which never reached " + m.ns
		}
	}
	return p, true
}
