package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/vishvananda/netns"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// serveDNS runs a nameserver of the test's own inside namespace ns on
// at: it answers A queries for the names of zone with their address,
// AAAA queries for them with no record, and NXDOMAIN for any other name.
// It stops when the test ends.
func serveDNS(t *testing.T, ns string, at netip.AddrPort, zone map[string]netip.Addr) {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fd, err := socketIn(h, domain(at.Addr()), unix.SOCK_DGRAM|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, sockaddr(at.Addr(), at.Port())); err != nil {
		unix.Close(fd)
		t.Fatalf("bind the test's nameserver to %s in %s: %v", at, ns, err)
	}
	f := os.NewFile(uintptr(fd), "test nameserver")
	t.Cleanup(func() { f.Close() })
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			var n int
			var from unix.Sockaddr
			var rerr error
			if rc.Read(func(fd uintptr) bool {
				n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_DONTWAIT)
				return !errors.Is(rerr, unix.EAGAIN)
			}) != nil {
				return
			}
			if rerr != nil {
				continue
			}
			if resp, ok := answerDNS(buf[:n], zone); ok {
				rc.Write(func(fd uintptr) bool { unix.Sendto(int(fd), resp, unix.MSG_DONTWAIT, from); return true })
			}
		}
	}()
}

// bindSilent binds a UDP socket on at inside namespace ns that never
// reads: a nameserver that hangs. It is closed when the test ends.
func bindSilent(t *testing.T, ns string, at netip.AddrPort) {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fd, err := socketIn(h, domain(at.Addr()), unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sockaddr(at.Addr(), at.Port())); err != nil {
		t.Fatalf("bind a silent socket to %s in %s: %v", at, ns, err)
	}
}

// answerDNS is the test nameserver's response to query q.
func answerDNS(q []byte, zone map[string]netip.Addr) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, false
	}
	question, err := p.Question()
	if err != nil {
		return nil, false
	}
	addr, known := zone[question.Name.String()]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	if known && question.Type == dnsmessage.TypeA {
		b.AResource(dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: addr.As4()})
	}
	out, err := b.Finish()
	return out, err == nil
}

// writeResolvConf gives named namespace ns its own resolv.conf, as `ip netns
// exec` reads it, removed when the test ends.
func writeResolvConf(t *testing.T, ns, text string) {
	t.Helper()
	dir := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func dnsProbeOf(t *testing.T, res *Result) *Probe {
	t.Helper()
	for i, p := range res.Probes {
		if p.Kind == facts.KindDNS {
			return &res.Probes[i]
		}
	}
	t.Fatalf("no dns probe in %+v", res.Probes)
	return nil
}

const testZoneName = "web.n3u.test"

var testZone = map[string]netip.Addr{testZoneName + ".": netip.MustParseAddr("10.3.0.80")}

// TestDNSCauses: A's resolv.conf names B's address; a nameserver of the
// test's own answers there (unless the case has none). Each case checks
// the dns probe's verdict and, where one is printed, applies the fix as
// printed and traces again: all ok.
func TestDNSCauses(t *testing.T) {
	labtest.RequireRoot(t)
	cases := []struct {
		name     string
		resolve  string
		noServer bool
		silent   bool // a socket bound to port 53 that never answers
		break_   func(t *testing.T, l topology.Lab)
		ok       bool
		cause    facts.Cause
		ns       string // A or B
		fix      string // with A, B, SUBNET1, V0 as labNames replaces them; "handle " takes any handle
		detail   []string
	}{
		{name: "answered", resolve: testZoneName, ok: true, detail: []string{"web.n3u.test. is 10.3.0.80, answered by nameserver SUBNET1HOST (/etc/netns/"}},
		{name: "nxdomain", resolve: "nope.n3u.test", cause: facts.CauseNXDomain, ns: "B",
			// nope.n3u.test has the 1 dot ndots asks for: asked as it is, then with the search domain.
			detail: []string{"nameserver SUBNET1HOST (/etc/netns/", "answered NXDOMAIN: nope.n3u.test.n3u.test. does not exist there (asked before it: nope.n3u.test.; none has an address)"}},
		{name: "a short name by the search list", resolve: "web", ok: true, detail: []string{"web.n3u.test. is 10.3.0.80"}},
		{name: "nothing listens on port 53", resolve: testZoneName, noServer: true, cause: facts.CausePortClosed, ns: "B",
			detail: []string{"answered the DNS query to UDP port 53 with ICMP port unreachable: nothing listens there"}},
		{name: "a nameserver that never answers", resolve: testZoneName, noServer: true, silent: true, cause: facts.CauseDropped, ns: "B",
			detail: []string{"which has a route back, yet nothing answered", "nor did an ICMP port unreachable come back, which", "'s kernel sends when nothing is bound to UDP port 53: what is bound there does not answer"}},
		{name: "query dropped by nft", resolve: testZoneName, break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip netns exec %s nft 'add table inet n3u; add chain inet n3u in { type filter hook input priority 0; }; add rule inet n3u in udp dport 53 drop'", l.NS1)
		}, cause: facts.CauseDropped, ns: "B", fix: "ip netns exec B nft delete rule inet n3u in handle ", detail: []string{`by nftables rule "udp dport 53 drop"`}},
		{name: "no route to the nameserver", resolve: testZoneName, break_: func(t *testing.T, l topology.Lab) {
			shf(t, "ip -n %s route del %s", l.NS0, l.Route0())
		}, cause: facts.CauseNoRoute, ns: "A", fix: "ip -n A route replace SUBNET1 dev V0", detail: []string{"has no route to SUBNET1HOST"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			l := prefixedLab(t, "n3u", false)
			names := labNames(l)
			writeResolvConf(t, l.NS0, fmt.Sprintf("# nsdump test\nsearch n3u.test\nnameserver %s\n", l.Addr1.Addr()))
			if !tt.noServer {
				serveDNS(t, l.NS1, netip.AddrPortFrom(l.Addr1.Addr(), 53), testZone)
			}
			if tt.silent {
				bindSilent(t, l.NS1, netip.AddrPortFrom(l.Addr1.Addr(), 53))
			}
			if tt.break_ != nil {
				tt.break_(t, l)
			}
			cfg := Config{DNSName: tt.resolve}
			res := traceLab(t, l, cfg)
			p := dnsProbeOf(t, res)
			t.Logf("%s %s: ok=%v %s in %s, fix %q: %s", p.Direction, p.Kind, p.OK, p.Cause, p.Namespace, p.Fix, p.Detail)
			for _, s := range p.Seen {
				t.Logf("seen %s %s %s %s", s.Point, s.Dir, s.What, s.Drop)
			}
			wantNS := map[string]string{"A": l.NS0, "B": l.NS1}[tt.ns]
			if tt.ok {
				wantNS = l.NS0
			}
			if p.OK != tt.ok || !tt.ok && (p.Cause != tt.cause || p.Namespace != wantNS) || !fixMatches(p.Fix, names.Replace(tt.fix)) {
				t.Errorf("ok=%v %s in %s, fix %q; want ok=%v %s in %s, fix %q", p.OK, p.Cause, p.Namespace, p.Fix, tt.ok, tt.cause, wantNS, names.Replace(tt.fix))
			}
			for _, d := range tt.detail {
				if !strings.Contains(p.Detail, names.Replace(d)) {
					t.Errorf("detail %q lacks %q", p.Detail, names.Replace(d))
				}
			}
			if p.Direction != l.NS0+"->"+l.NS1 {
				t.Errorf("direction %q, want %s->%s: B holds the nameserver", p.Direction, l.NS0, l.NS1)
			}
			if tt.ok || tt.cause == facts.CausePortClosed || tt.cause == facts.CauseNXDomain {
				whats := map[string]bool{}
				for _, s := range p.Seen {
					whats[s.What] = true
				}
				if !whats["query"] || !whats["response"] && tt.cause != facts.CausePortClosed {
					t.Errorf("seen %v: want the query and, when answered, the response", whats)
				}
			}
			if *update && !t.Failed() {
				record(t, "lab dns "+tt.name, res)
			}
			if t.Failed() || p.Fix == "" {
				return
			}
			applyFixes(t, []string{p.Fix})
			again := traceLab(t, l, cfg)
			allOK(t, fmt.Sprintf("after %q", p.Fix), again)
		})
	}
}

// TestDNSDockerEmbedded: a container's resolver as Docker makes it: the
// container's resolv.conf names 127.0.0.11, whose port 53 its namespace's
// NAT rules send to the port the engine's resolver listens on inside the
// namespace. The probe follows the rules, as the container's own queries
// do, and the name resolves.
func TestDNSDockerEmbedded(t *testing.T) {
	l := prefixedLab(t, "n3u", false)
	writeResolvConf(t, l.NS0, "nameserver 127.0.0.11\noptions ndots:0\n")
	const port = 40053
	serveDNS(t, l.NS0, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.11"), port), testZone)
	shf(t, "ip netns exec %s nft 'add table ip n3u_dns; add chain ip n3u_dns out { type nat hook output priority -100; }; add rule ip n3u_dns out ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:%d'", l.NS0, port)
	res, err := Run(context.Background(), Config{From: l.NS0, To: l.NS1, DNSName: testZoneName, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p := dnsProbeOf(t, res)
	t.Logf("%s %s: ok=%v %s in %s: %s", p.Direction, p.Kind, p.OK, p.Cause, p.Namespace, p.Detail)
	if !p.OK || !strings.Contains(p.Detail, "web.n3u.test. is 10.3.0.80, answered by nameserver 127.0.0.11") || p.Direction != l.NS0+"->"+l.NS0 {
		t.Errorf("%s: ok=%v %s: %s; want ok from 127.0.0.11 in %s", p.Direction, p.OK, p.Cause, p.Detail, l.NS0)
	}
	allOK(t, "docker's embedded DNS", res)
}

// TestDNSLinkLocalNameserver: A's resolv.conf names a link-local IPv6
// nameserver with its zone, A's interface toward B, as a router
// advertisement's RDNSS often gives it. The queries leave by that
// interface (a link-local address without its zone is no destination
// at all), the nameserver of the test's own in B answers, and the
// verdict names the server with its zone. A zone naming an interface A
// does not have is an error naming the file, before any probe.
func TestDNSLinkLocalNameserver(t *testing.T) {
	labtest.RequireRoot(t)
	l := prefixedLab(t, "n3u", false)
	// Link-local addresses of the test's own, without duplicate address
	// detection: the ones the kernel made stay tentative for a while.
	shf(t, "ip -n %s addr add fe80::53/64 dev %s nodad", l.NS1, l.Veth1)
	shf(t, "ip -n %s addr add fe80::a/64 dev %s nodad", l.NS0, l.Veth0)
	serveDNS(t, l.NS1, netip.MustParseAddrPort("[::]:53"), testZone)
	server := "fe80::53%" + l.Veth0
	writeResolvConf(t, l.NS0, "nameserver "+server+"\n")
	res := traceLab(t, l, Config{DNSName: testZoneName})
	p := dnsProbeOf(t, res)
	t.Logf("%s %s: ok=%v %s in %s: %s", p.Direction, p.Kind, p.OK, p.Cause, p.Namespace, p.Detail)
	if !p.OK || !strings.Contains(p.Detail, "web.n3u.test. is 10.3.0.80, answered by nameserver "+server+" (/etc/netns/") {
		t.Errorf("ok=%v %s: %q; want ok, answered by nameserver %s", p.OK, p.Cause, p.Detail, server)
	}

	writeResolvConf(t, l.NS0, "nameserver fe80::53%n3unosuch0\n")
	_, err := Run(context.Background(), Config{From: l.NS0, To: l.NS1, DNSName: testZoneName, Timeout: 2 * time.Second})
	want := fmt.Sprintf("--dns: /etc/netns/%s/resolv.conf names nameserver fe80::53%%n3unosuch0, but %s has no interface n3unosuch0", l.NS0, l.NS0)
	if err == nil || err.Error() != want {
		t.Errorf("a zone A lacks: %v; want %q", err, want)
	}
}
