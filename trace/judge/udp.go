package judge

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/nsdump/nsdump/trace/facts"
)

// The datagram probes: udp (a datagram each way to --udp PORT, echoed by
// the responder trace runs there) and dns (a query from the namespace to
// the nameserver its resolv.conf names). Both are judged as the other
// probes are, by where their packets went; an ICMP port unreachable that
// reaches the socket (ECONNREFUSED) is the destination's stack saying
// nothing listens, unless a rule's reject said it; a dns probe that got a
// response is judged by what the response says.

// passedDatagram is the detail of a datagram probe that passed.
func passedDatagram(p facts.ProbeFacts) string {
	if p.Kind == facts.KindDNS && p.DNS != nil {
		d := p.DNS
		return fmt.Sprintf("%s is %s%s, answered by nameserver %s (%s)", d.Name, joinAddrs(d.Addresses), through(d), d.Server, d.ResolvConf)
	}
	s := fmt.Sprintf("%d/%d datagrams to %s echoed", p.Socket.Received, p.Socket.Count, netip.AddrPortFrom(p.Request.Dst, p.Request.DPort))
	if p.Socket.Listener != nil {
		s += fmt.Sprintf(" by what already listened there: %s", p.Socket.Listener)
	}
	return s
}

// judgeDNSAnswer judges a dns probe whose nameserver answered without an
// address: the name does not exist (NXDOMAIN), or the server could not or
// would not give one. The namespace is the server's when the trace holds
// it, else the asker's.
func judgeDNSAnswer(f *facts.Facts, p facts.ProbeFacts) Verdict {
	d := p.DNS
	ns := p.From
	if f.State(p.To) != nil {
		ns = p.To
	}
	by := fmt.Sprintf("nameserver %s (%s of %s)", d.Server, d.ResolvConf, p.From)
	tried := ""
	if len(d.Tried) > 0 {
		tried = fmt.Sprintf(" (asked before it: %s; none has an address)", strings.Join(d.Tried, ", "))
	}
	switch {
	case d.RCode == "NXDOMAIN":
		return Verdict{Cause: facts.CauseNXDomain, Namespace: ns,
			Detail: fmt.Sprintf("%s answered NXDOMAIN: %s does not exist there%s", by, d.Name, tried)}
	case d.RCode == "NOERROR" && d.Truncated:
		return Verdict{Cause: facts.CauseDNS, Namespace: ns,
			Detail: fmt.Sprintf("%s answered with a truncated response (TC: too large for a datagram) and no address for %s%s%s: a resolver asks again over TCP, which this probe does not", by, d.Name, through(d), tried)}
	case d.RCode == "NOERROR":
		return Verdict{Cause: facts.CauseDNS, Namespace: ns,
			Detail: fmt.Sprintf("%s answered NOERROR with no A or AAAA record for %s%s%s", by, d.Name, through(d), tried)}
	}
	return Verdict{Cause: facts.CauseDNS, Namespace: ns,
		Detail: fmt.Sprintf("%s answered %s for %s%s", by, d.RCode, d.Name, tried)}
}

// portUnreachable: the destination's stack answered the datagram with an
// ICMP port unreachable (the socket's ECONNREFUSED). A rule's reject says
// the same; judgeRejected finds it and takes over.
func portUnreachable(p facts.ProbeFacts) Verdict {
	what := "the datagram"
	if p.Kind == facts.KindDNS {
		what = "the DNS query"
	}
	return Verdict{Cause: facts.CausePortClosed, Namespace: p.To, RouteGet: routeGetIn(p, p.To),
		Detail: fmt.Sprintf("%s answered %s to UDP port %d with ICMP port unreachable: nothing listens there", p.To, what, p.Request.DPort)}
}

// through names the aliases a dns answer led through: " (through CNAME
// cdn.example.)".
func through(d *facts.DNSFacts) string {
	switch len(d.CNAMEs) {
	case 0:
		return ""
	case 1:
		return " (through CNAME " + d.CNAMEs[0] + ")"
	}
	return " (through CNAMEs " + strings.Join(d.CNAMEs, ", ") + ")"
}

func joinAddrs(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}
