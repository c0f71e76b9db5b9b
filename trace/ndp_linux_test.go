package trace

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/trace/facts"
)

// TestNFTraceNDPDropped: B's input chain has `policy drop` and accepts
// echo requests and the probed port but forgets IPv6's neighbour
// discovery (issue 18), so B never learns its gateway's link address:
// every IPv6 probe, both ways, fails in B, and the kernel's trace of the
// ND packets says which policy dropped them; no probe's own packet was.
// IPv4 passes. The printed fix, applied as printed, makes all ok.
func TestNFTraceNDPDropped(t *testing.T) {
	tp := newTopoPrefix(t, "nd", "router", false, true)
	ruleset := `table inet f {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    ip protocol icmp accept
    meta l4proto ipv6-icmp icmpv6 type { echo-request } accept
    tcp dport 7096 accept
    meta nfproto ipv4 accept
  }
}`
	inNS(t, tp.B, "nft", ruleset)
	res := tp.trace(t, time.Second)
	var fixes []string
	v6 := 0
	for _, p := range res.Probes {
		what := p.Direction + " " + string(p.Kind)
		if p.Family != 6 || p.Kind == "mtu" {
			if !p.OK {
				t.Errorf("%s (IPv%d): %s in %s (%s), want ok", what, p.Family, p.Cause, p.Namespace, p.Detail)
			}
			continue
		}
		v6++
		if p.OK || p.Cause != facts.CauseDropped || p.Namespace != tp.B {
			t.Errorf("%s (IPv6): %s in %s (%s), want dropped in %s", what, p.Cause, p.Namespace, p.Detail, tp.B)
		}
		for _, want := range []string{"neighbour discovery (NDP) was dropped in " + tp.B, "by the policy drop of chain inet f input", "the neighbour advertisement"} {
			if !strings.Contains(p.Detail, want) {
				t.Errorf("%s (IPv6): detail %q lacks %q", what, p.Detail, want)
			}
		}
		for _, wrong := range []string{"the request was dropped", "found to blame", "nothing to blame"} {
			if strings.Contains(p.Detail, wrong) {
				t.Errorf("%s (IPv6): detail %q says %q", what, p.Detail, wrong)
			}
		}
		if !strings.Contains(p.Fix, "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept") {
			t.Errorf("%s (IPv6): fix %q does not accept ND", what, p.Fix)
		}
		if p.Fix != "" && !slices.Contains(fixes, p.Fix) {
			fixes = append(fixes, p.Fix)
		}
	}
	if v6 != 4 {
		t.Errorf("%d IPv6 probes (echo and tcp), want 4: 2 each way", v6)
	}
	if *update {
		record(t, "nftrace ndp policy drop", res)
	}
	if t.Failed() {
		return
	}
	applyFixes(t, fixes)
	again := tp.trace(t, 2*time.Second)
	for _, p := range again.Probes {
		if !p.OK {
			t.Errorf("after %q: %s %s: %s in %s (%s)", fixes, p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
	}
}
