package trace

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// TestKernelAgreement: the kernel's reason fits a verdict when it names the
// same namespace and a reason of the cause (or of what the verdict blamed:
// a rule, rp_filter, a neighbour entry, a link with ARP off); otherwise
// the detail says both.
func TestKernelAgreement(t *testing.T) {
	nft, rp, nothing := blame{rule: true}, blame{rpFilter: true}, blame{}
	for _, tt := range []struct {
		name          string
		cause, ns     string
		blamed        blame
		reason, where string
		agree         bool
	}{
		{"nft rule and NETFILTER_DROP", CauseDropped, "B", nft, "NETFILTER_DROP", "B", true},
		{"nft rule but rp_filter", CauseDropped, "B", nft, "IP_RPFILTER", "B", false},
		{"rp_filter and IP_RPFILTER", CauseDropped, "B", rp, "IP_RPFILTER", "B", true},
		{"rp_filter but a rule", CauseDropped, "B", rp, "NETFILTER_DROP", "B", false},
		{"nothing found, kernel knows", CauseDropped, "B", nothing, "IP_INHDR", "B", true},
		{"nothing found, kernel names a rule", CauseDropped, "B", nothing, "NETFILTER_DROP", "B", true},
		{"a rule, but TTL", CauseDropped, "B", nft, "IP_INHDR", "B", false},
		{"another namespace", CauseDropped, "B", nft, "NETFILTER_DROP", "A", false},
		{"port closed", CausePortClosed, "B", nothing, "NO_SOCKET", "B", true},
		{"port closed but a firewall", CausePortClosed, "B", nothing, "NETFILTER_DROP", "B", false},
		{"neighbour", CauseNeighbor, "A", nothing, "NEIGH_FAILED", "A", true},
		{"neighbour but no route", CauseNeighbor, "A", nothing, "IP_OUTNOROUTES", "A", false},
		// A neighbour that never resolves drops in the namespace that asked,
		// even when the verdict blames another (the owner's ARP drop rule).
		{"R's neighbour entry, drop in R", CauseNeighbor, "B", blame{neighborOf: "R"}, "NEIGH_FAILED", "R", true},
		{"R's neighbour entry, drop in C", CauseNeighbor, "B", blame{neighborOf: "R"}, "NEIGH_FAILED", "C", false},
		{"RR's neighbour entry, drop in R", CauseNeighbor, "B", blame{neighborOf: "RR"}, "NEIGH_FAILED", "R", false},
		// Frames from a link with ARP off carry its own MAC: the next hop
		// drops them as another host's.
		{"ARP off in B, OTHERHOST in R", CauseNeighbor, "B", blame{noARP: true}, "OTHERHOST", "R", true},
		{"ARP off in B, NETFILTER_DROP in R", CauseNeighbor, "B", blame{noARP: true}, "NETFILTER_DROP", "R", false},
		{"no link blamed, OTHERHOST in R", CauseNeighbor, "B", nothing, "OTHERHOST", "R", false},
		// A link down behind a bridge: the sender's resolution never
		// completes, and it drops what it queued (issue 22, under load).
		{"link down on A's resolution, NEIGH_FAILED in A", CauseLinkDown, "M", blame{neighborOf: "A"}, "NEIGH_FAILED", "A", true},
		{"link down on A's resolution, NEIGH_FAILED in C", CauseLinkDown, "M", blame{neighborOf: "A"}, "NEIGH_FAILED", "C", false},
		{"link down, no resolution, NEIGH_FAILED in A", CauseLinkDown, "M", nothing, "NEIGH_FAILED", "A", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			kd := KernelDropSeen{Namespace: tt.where, Reason: tt.reason, Location: "somewhere", What: "echo request"}
			said := kernelSaysOtherwise(Verdict{Cause: tt.cause, Namespace: tt.ns, blamed: tt.blamed}, []KernelDropSeen{kd})
			if (said != "") == tt.agree {
				t.Errorf("agree %v, but the kernel's word reads %q", tt.agree, said)
			}
			if said != "" && !strings.Contains(said, "the kernel says otherwise: it dropped the echo request with "+tt.reason+" at somewhere in "+tt.where) {
				t.Errorf("the detail does not name the kernel's reason: %q", said)
			}
		})
	}
}

// TestTraceKernelDrops: a firewall in B drops echo requests and SYNs to the
// port; the trace's verdict carries the kernel's reason, location and
// namespace, and no drop of another namespace.
func TestTraceKernelDrops(t *testing.T) {
	l := labtest.New(t, "dr", true)
	nft(t, l.NS1, "add table inet drt; add chain inet drt in { type filter hook input priority 0; policy accept; }; "+
		"add rule inet drt in icmp type echo-request drop; add rule inet drt in tcp dport 7096 drop")
	res, err := Run(t.Context(), Config{From: l.NS0, To: l.NS1, Count: 1, Timeout: 300e6})
	if err != nil {
		t.Fatal(err)
	}
	if res.DropsUnavailable != nil {
		t.Fatalf("no drop monitor: %v", res.DropsUnavailable)
	}
	inodes := map[uint64]string{}
	for _, ns := range []string{l.NS0, l.NS1} {
		h, err := topology.OpenNamespace(ns)
		if err != nil {
			t.Fatal(err)
		}
		ino, _ := topology.Inode(h)
		h.Close()
		inodes[ino] = ns
	}
	for _, kind := range []string{"icmp-echo", "tcp"} {
		p := find(res, l.NS0+"->"+l.NS1, kind)
		if p == nil || p.Cause != CauseDropped || p.Namespace != l.NS1 {
			t.Fatalf("%s: %+v", kind, p)
		}
		found := false
		for _, kd := range p.KernelDrops {
			found = found || kd.Reason == "NETFILTER_DROP" && kd.Location == "nft_do_chain" && kd.Namespace == l.NS1 && kd.Interface == l.Veth1
		}
		if !found {
			t.Errorf("%s: no NETFILTER_DROP at nft_do_chain in %s among %+v", kind, l.NS1, p.KernelDrops)
		}
		if strings.Contains(p.Detail, "the kernel says otherwise") {
			t.Errorf("%s: the kernel and nsdump disagree: %s", kind, p.Detail)
		}
	}
	for _, p := range res.Probes {
		for _, kd := range p.KernelDrops {
			if inodes[kd.Inode] != kd.Namespace {
				t.Errorf("%s %s: a drop of namespace %d (%s), not the trace's", p.Direction, p.Kind, kd.Inode, kd.Namespace)
			}
		}
	}
}

// TestTraceKernelDropsInRouter: with forwarding off in the router between A
// and B, every probe's verdict carries what Linux 6.18 reports there:
// IP_INADDRERRORS at ip_error, in the router's namespace.
func TestTraceKernelDropsInRouter(t *testing.T) {
	labtest.RequireRoot(t)
	tag := fmt.Sprintf("%04x", os.Getpid()&0xffff)
	a, b, r := "nsddr-ra"+tag, "nsddr-rb"+tag, "nsddr-rr"+tag
	for _, n := range []string{a, b, r} {
		ip(t, "netns", "add", n)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", n).Run() })
		ip(t, "-n", n, "link", "set", "lo", "up")
	}
	ip(t, "-n", a, "link", "add", "a0", "type", "veth", "peer", "name", "ra", "netns", r)
	ip(t, "-n", b, "link", "add", "b0", "type", "veth", "peer", "name", "rb", "netns", r)
	for _, c := range [][]string{
		{"-n", r, "addr", "add", "172.30.1.1/24", "dev", "ra"}, {"-n", r, "addr", "add", "172.30.2.1/24", "dev", "rb"},
		{"-n", a, "addr", "add", "172.30.1.2/24", "dev", "a0"}, {"-n", b, "addr", "add", "172.30.2.2/24", "dev", "b0"},
		{"-n", r, "link", "set", "ra", "up"}, {"-n", r, "link", "set", "rb", "up"},
		{"-n", a, "link", "set", "a0", "up"}, {"-n", b, "link", "set", "b0", "up"},
		{"-n", a, "route", "add", "default", "via", "172.30.1.1"}, {"-n", b, "route", "add", "default", "via", "172.30.2.1"},
		{"netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=0"},
	} {
		ip(t, c...)
	}
	res, err := Run(t.Context(), Config{From: a, To: b, Count: 1, Timeout: 300e6})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Probes {
		found := false
		for _, kd := range p.KernelDrops {
			found = found || kd.Reason == "IP_INADDRERRORS" && kd.Location == "ip_error" && kd.Namespace == r
			if kd.Namespace != a && kd.Namespace != b && kd.Namespace != r {
				t.Errorf("%s %s: a drop in %s, not on the path", p.Direction, p.Kind, kd.Namespace)
			}
		}
		if p.OK || p.Namespace != r || !found || strings.Contains(p.Detail, "the kernel says otherwise") {
			t.Errorf("%s %s: %s in %s (%s), kernel drops %+v", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail, p.KernelDrops)
		}
	}
}
