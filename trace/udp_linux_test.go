package trace

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
)

const udpTestPort = 7097

// TestUDPHealthy: with --udp, each direction sends its datagrams to the
// responder trace runs on the other side, which echoes them all; the
// capture saw each datagram leave and its echo come back. IPv4 and IPv6.
func TestUDPHealthy(t *testing.T) {
	for _, six := range []bool{false, true} {
		t.Run(fmt.Sprintf("ipv6=%v", six), func(t *testing.T) {
			l := prefixedLab(t, "n3u", six)
			res := traceLab(t, l, Config{UDPPort: udpTestPort})
			allOK(t, "healthy lab with --udp", res)
			dst := map[string]string{l.NS0 + "->" + l.NS1: l.Addr1.Addr().String(), l.NS1 + "->" + l.NS0: l.Addr0.Addr().String()}
			n := 0
			for _, p := range res.Probes {
				if p.Kind != facts.KindUDP {
					continue
				}
				n++
				if want := fmt.Sprintf("3/3 datagrams to %s echoed", netip.AddrPortFrom(netip.MustParseAddr(dst[p.Direction]), udpTestPort)); !strings.Contains(p.Detail, want) {
					t.Errorf("%s udp: %q, want %q", p.Direction, p.Detail, want)
				}
				whats := map[string]bool{}
				for _, s := range p.Seen {
					whats[s.What] = true
				}
				if !whats["request"] || !whats["reply"] || p.Sent != 3 || p.Received != 3 {
					t.Errorf("%s udp: sent %d received %d, seen %v; want 3, 3 and datagrams and their echoes", p.Direction, p.Sent, p.Received, whats)
				}
			}
			if n != 2 {
				t.Errorf("%d udp probes, want one each way", n)
			}
		})
	}
}

// TestUDPCauses: a rule in B's input that drops the datagrams to the
// port, and one that rejects them; the rule is named and its deletion,
// applied as printed, makes the retrace all ok.
func TestUDPCauses(t *testing.T) {
	labtest.RequireRoot(t)
	rule := func(ns, r string) string {
		return fmt.Sprintf("ip netns exec %s nft 'add table inet n3u; add chain inet n3u in { type filter hook input priority 0; }; add rule inet n3u in %s'", ns, r)
	}
	const deleteRule = "ip netns exec B nft delete rule inet n3u in handle "
	cfg := Config{UDPPort: udpTestPort}
	runCauses(t, []causeCase{
		{name: "udp dropped by nft", cfg: cfg, prefix: "n3u", record: true, break_: func(t *testing.T, l topology.Lab) {
			shf(t, "%s", rule(l.NS1, fmt.Sprintf("udp dport %d drop", udpTestPort)))
		}, want: []want{{"A->B", facts.KindUDP, facts.CauseDropped, "B", deleteRule, `by nftables rule "udp dport 7097 drop" (inet n3u in handle`}}},
		{name: "udp rejected by nft", cfg: cfg, prefix: "n3u", record: true, break_: func(t *testing.T, l topology.Lab) {
			shf(t, "%s", rule(l.NS1, fmt.Sprintf("udp dport %d reject", udpTestPort)))
		}, want: []want{{"A->B", facts.KindUDP, facts.CauseRejected, "B", deleteRule, "port unreachable"}}},
	})
}

// TestUDPPortClosed: with --no-listen nothing listens on the port: each
// side's stack answers the other's datagrams with an ICMP port
// unreachable, which is port-closed where nothing listens, not a rule.
func TestUDPPortClosed(t *testing.T) {
	l := prefixedLab(t, "n3u", false)
	res := traceLab(t, l, Config{UDPPort: udpTestPort, NoListen: true})
	names := labNames(l)
	for _, w := range []want{
		{"A->B", facts.KindUDP, facts.CausePortClosed, l.NS1, "", "answered the datagram to UDP port 7097 with ICMP port unreachable: nothing listens there"},
		{"B->A", facts.KindUDP, facts.CausePortClosed, l.NS0, "", "answered the datagram to UDP port 7097 with ICMP port unreachable: nothing listens there"},
	} {
		p := find(res, names.Replace(w.direction), w.kind)
		if p == nil {
			t.Fatalf("no %s %s probe", w.direction, w.kind)
		}
		t.Logf("%s %s: %s in %s: %s", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		if p.OK || p.Cause != w.cause || p.Namespace != w.namespace || p.Fix != "" || !strings.Contains(p.Detail, w.detail) || !strings.Contains(p.Detail, "port unreachable") {
			t.Errorf("%s udp: ok=%v %s in %s, fix %q: %q; want %s in %s with %q", p.Direction, p.OK, p.Cause, p.Namespace, p.Fix, p.Detail, w.cause, w.namespace, w.detail)
		}
		if strings.Contains(p.Detail, "nftables") || strings.Contains(p.Detail, "rejects") {
			t.Errorf("%s udp: a rule named where none is: %q", p.Direction, p.Detail)
		}
	}
	if *update {
		record(t, "lab udp port closed", res)
	}
}
