package judge

import (
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/internal/tracetest"
)

// TestKernelAgreement: the kernel's reason fits a verdict when it names the
// same namespace and a reason of the cause (or of what the verdict blamed:
// a rule, rp_filter, a neighbour entry, a link with ARP off); otherwise
// the detail says both.
func TestKernelAgreement(t *testing.T) {
	nft, rp, nothing := blame{rule: true}, blame{rpFilter: true}, blame{}
	for _, tt := range []struct {
		name          string
		cause         facts.Cause
		ns            string
		blamed        blame
		reason, where string
		agree         bool
	}{
		{"nft rule and NETFILTER_DROP", facts.CauseDropped, "B", nft, "NETFILTER_DROP", "B", true},
		{"nft rule but rp_filter", facts.CauseDropped, "B", nft, "IP_RPFILTER", "B", false},
		{"rp_filter and IP_RPFILTER", facts.CauseDropped, "B", rp, "IP_RPFILTER", "B", true},
		{"rp_filter but a rule", facts.CauseDropped, "B", rp, "NETFILTER_DROP", "B", false},
		{"nothing found, kernel knows", facts.CauseDropped, "B", nothing, "IP_INHDR", "B", true},
		{"nothing found, kernel names a rule", facts.CauseDropped, "B", nothing, "NETFILTER_DROP", "B", true},
		{"a rule, but TTL", facts.CauseDropped, "B", nft, "IP_INHDR", "B", false},
		{"another namespace", facts.CauseDropped, "B", nft, "NETFILTER_DROP", "A", false},
		{"port closed", facts.CausePortClosed, "B", nothing, "NO_SOCKET", "B", true},
		{"port closed but a firewall", facts.CausePortClosed, "B", nothing, "NETFILTER_DROP", "B", false},
		{"neighbour", facts.CauseNeighbor, "A", nothing, "NEIGH_FAILED", "A", true},
		{"neighbour but no route", facts.CauseNeighbor, "A", nothing, "IP_OUTNOROUTES", "A", false},
		// A neighbour that never resolves drops in the namespace that asked,
		// even when the verdict blames another (the owner's ARP drop rule).
		{"R's neighbour entry, drop in R", facts.CauseNeighbor, "B", blame{neighborOf: "R"}, "NEIGH_FAILED", "R", true},
		{"R's neighbour entry, drop in C", facts.CauseNeighbor, "B", blame{neighborOf: "R"}, "NEIGH_FAILED", "C", false},
		{"RR's neighbour entry, drop in R", facts.CauseNeighbor, "B", blame{neighborOf: "RR"}, "NEIGH_FAILED", "R", false},
		// Frames from a link with ARP off carry its own MAC: the next hop
		// drops them as another host's.
		{"ARP off in B, OTHERHOST in R", facts.CauseNeighbor, "B", blame{noARP: true}, "OTHERHOST", "R", true},
		{"ARP off in B, NETFILTER_DROP in R", facts.CauseNeighbor, "B", blame{noARP: true}, "NETFILTER_DROP", "R", false},
		{"no link blamed, OTHERHOST in R", facts.CauseNeighbor, "B", nothing, "OTHERHOST", "R", false},
		// A link down behind a bridge: the sender's resolution never
		// completes, and it drops what it queued (issue 22, under load).
		{"link down on A's resolution, NEIGH_FAILED in A", facts.CauseLinkDown, "M", blame{neighborOf: "A"}, "NEIGH_FAILED", "A", true},
		{"link down on A's resolution, NEIGH_FAILED in C", facts.CauseLinkDown, "M", blame{neighborOf: "A"}, "NEIGH_FAILED", "C", false},
		{"link down, no resolution, NEIGH_FAILED in A", facts.CauseLinkDown, "M", nothing, "NEIGH_FAILED", "A", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kd := facts.KernelDropSeen{Namespace: tt.where, Reason: tt.reason, Location: "somewhere", What: "echo request"}
			said := kernelSaysOtherwise(Verdict{Cause: tt.cause, Namespace: tt.ns, blamed: tt.blamed}, []facts.KernelDropSeen{kd})
			if (said != "") == tt.agree {
				t.Errorf("agree %v, but the kernel's word reads %q", tt.agree, said)
			}
			if said != "" && !strings.Contains(said, "the kernel says otherwise: it dropped the echo request with "+tt.reason+" at somewhere in "+tt.where) {
				t.Errorf("the detail does not name the kernel's reason: %q", said)
			}
		})
	}
}

// TestKernelAgreesIPv6NoReturnRoute: an IPv6 destination with no route back
// frees the echo request it cannot answer with NOT_SPECIFIED at icmpv6_rcv
// (seen live: trace A B --to B's address, B's route to A deleted, kernel
// 6.18); that is the verdict's own story, in its namespace only.
func TestKernelAgreesIPv6NoReturnRoute(t *testing.T) {
	v := Verdict{Cause: facts.CauseNoReturnRoute, Namespace: "B"}
	for _, tt := range []struct {
		kd    facts.KernelDropSeen
		agree bool
	}{
		{facts.KernelDropSeen{Namespace: "B", Reason: "NOT_SPECIFIED", Location: "icmpv6_rcv", What: "echo request"}, true},
		{facts.KernelDropSeen{Namespace: "B", Reason: "IP_INNOROUTES", Location: "ip6_pkt_discard", What: "echo reply"}, true},
		{facts.KernelDropSeen{Namespace: "A", Reason: "NOT_SPECIFIED", Location: "icmpv6_rcv", What: "echo request"}, false},
		{facts.KernelDropSeen{Namespace: "B", Reason: "NOT_SPECIFIED", Location: "icmp_rcv", What: "echo request"}, false},
	} {
		said := kernelSaysOtherwise(v, []facts.KernelDropSeen{tt.kd})
		if (said == "") != tt.agree {
			t.Errorf("%+v: agree %v, but the kernel's word reads %q", tt.kd, tt.agree, said)
		}
	}
}

// A router whose strict rp_filter refuses the sender's ARP: once the
// sender gives up on its neighbour (after its retries, on a slow or loaded
// machine within the probes' time) the kernel drops what it queued with
// NEIGH_FAILED in the sender. That fits the verdict: dropped in the router,
// whose rp_filter left the resolution unanswered.
func TestRPFilterRefusedARPGivenUp(t *testing.T) {
	rec := tracetest.LoadOne(t, "kstate-rp_filter-in-a-router-with-an-asymmetric-route")
	judged := 0
	for _, pf := range rec.Facts.Probes {
		v := Judge(rec.Facts, pf)
		if v.OK || !strings.Contains(v.Detail, "its ARP requests included") || pf.Direction != pf.From+"->"+pf.To || len(pf.Path) < 2 {
			continue
		}
		asker := pf.Path[0].Namespace
		pf.Drops = append(pf.Drops, facts.KernelDropSeen{Namespace: asker, Reason: "NEIGH_FAILED", Location: "neigh_invalidate", What: "echo request"})
		if got := Judge(rec.Facts, pf); got.Cause != v.Cause || got.Namespace != v.Namespace || strings.Contains(got.Detail, "says otherwise") {
			t.Errorf("%s %s with %s giving up on its neighbour: %s in %s: %s", pf.Direction, pf.Kind, asker, got.Cause, got.Namespace, got.Detail)
		}
		judged++
	}
	if judged == 0 {
		t.Fatal("no probe of the recording is judged by its unanswered neighbour resolution")
	}
}
