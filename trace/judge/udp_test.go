package judge

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// TestJudgeDNS: the dns probe judged from its facts alone: by the
// response when one came (ok with the addresses and the aliases they came
// through, nxdomain, dns-error, a truncated response without an address),
// and as the other probes when none did (no route from the sender to a
// nameserver the trace does not hold; a port unreachable).
func TestJudgeDNS(t *testing.T) {
	server := netip.MustParseAddr("10.9.0.53")
	base := func(d *facts.DNSFacts) facts.ProbeFacts {
		return facts.ProbeFacts{Direction: "A->10.9.0.53", Kind: facts.KindDNS, Family: 4, From: "A", To: server.String(),
			Request: facts.Packet{Family: 4, Proto: "udp", Src: netip.MustParseAddr("10.0.1.1"), Dst: server, SPort: 40000, DPort: 53},
			Socket:  facts.SocketFacts{Count: 2, Sent: 2}, DNS: d,
			RouteGets: []facts.Lookup{{Namespace: "A", Dst: server, OK: true, Dev: "a0"}}}
	}
	dns := func(rcode string, addrs ...string) *facts.DNSFacts {
		d := &facts.DNSFacts{Name: "web.example.", Server: server, ResolvConf: "/etc/netns/A/resolv.conf", Answered: rcode != "", RCode: rcode}
		for _, a := range addrs {
			d.Addresses = append(d.Addresses, netip.MustParseAddr(a))
		}
		return d
	}
	noRoute := base(dns(""))
	noRoute.Socket = facts.SocketFacts{Count: 2, SendErr: facts.SocketError{Errno: "ENETUNREACH", Text: "network is unreachable"}}
	noRoute.RouteGets = []facts.Lookup{{Namespace: "A", Dst: server, Output: "RTNETLINK answers: Network is unreachable"}}
	refused := base(dns(""))
	refused.Socket.RecvErr = facts.SocketError{Errno: "ECONNREFUSED", Text: "connection refused"}
	ok := base(dns("NOERROR", "10.3.0.80", "fd00::80"))
	ok.OK = true
	aliased := base(dns("NOERROR", "10.3.0.81"))
	aliased.DNS.CNAMEs = []string{"lb.example.", "cdn.example."}
	aliased.OK = true
	aliasOnly := base(dns("NOERROR"))
	aliasOnly.DNS.CNAMEs = []string{"gone.example."}
	truncated := base(dns("NOERROR"))
	truncated.DNS.Truncated = true
	for _, tt := range []struct {
		name   string
		p      facts.ProbeFacts
		ok     bool
		cause  facts.Cause
		ns     string
		detail string
	}{
		{"answered", ok, true, facts.CauseOK, "A", "web.example. is 10.3.0.80, fd00::80, answered by nameserver 10.9.0.53 (/etc/netns/A/resolv.conf)"},
		{"nxdomain", base(dns("NXDOMAIN")), false, facts.CauseNXDomain, "A", "nameserver 10.9.0.53 (/etc/netns/A/resolv.conf of A) answered NXDOMAIN: web.example. does not exist there"},
		{"servfail", base(dns("SERVFAIL")), false, facts.CauseDNS, "A", "answered SERVFAIL for web.example."},
		{"no address", base(dns("NOERROR")), false, facts.CauseDNS, "A", "answered NOERROR with no A or AAAA record for web.example."},
		{"answered through a CNAME chain", aliased, true, facts.CauseOK, "A", "web.example. is 10.3.0.81 (through CNAMEs lb.example., cdn.example.), answered by"},
		{"a CNAME without an address", aliasOnly, false, facts.CauseDNS, "A", "answered NOERROR with no A or AAAA record for web.example. (through CNAME gone.example.)"},
		{"truncated without an address", truncated, false, facts.CauseDNS, "A", "answered with a truncated response (TC: too large for a datagram) and no address for web.example.: a resolver asks again over TCP"},
		{"no route to the nameserver", noRoute, false, facts.CauseNoRoute, "A", "A has no route to 10.9.0.53"},
		{"port unreachable", refused, false, facts.CausePortClosed, server.String(), "answered the DNS query to UDP port 53 with ICMP port unreachable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &facts.Facts{Namespaces: []*nsstate.NamespaceState{{Name: "A"}}, Probes: []facts.ProbeFacts{tt.p}}
			v := Judge(f, tt.p)
			if v.OK != tt.ok || v.Cause != tt.cause || v.Namespace != tt.ns || !strings.Contains(v.Detail, tt.detail) {
				t.Errorf("ok=%v %s in %s: %q; want ok=%v %s in %s with %q", v.OK, v.Cause, v.Namespace, v.Detail, tt.ok, tt.cause, tt.ns, tt.detail)
			}
		})
	}
}
