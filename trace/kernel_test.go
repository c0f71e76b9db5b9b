package trace

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
)

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
	for _, kind := range []facts.ProbeKind{"icmp-echo", "tcp"} {
		p := find(res, l.NS0+"->"+l.NS1, kind)
		if p == nil || p.Cause != facts.CauseDropped || p.Namespace != l.NS1 {
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
