package netfilter

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// bridged is a bridge br0 in namespace B with two hosts on it.
type bridged struct {
	B, H1, H2 string
	A1, A2    netip.Addr
}

func newBridged(t *testing.T) bridged {
	t.Helper()
	requireTools(t)
	n := labSeq.Add(1)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, n&0xff)
	l := bridged{B: "nsdnf-br" + tag, H1: "nsdnf-h1" + tag, H2: "nsdnf-h2" + tag,
		A1: netip.MustParseAddr(fmt.Sprintf("10.250.%d.1", n%250)), A2: netip.MustParseAddr(fmt.Sprintf("10.250.%d.2", n%250))}
	for _, ns := range []string{l.B, l.H1, l.H2} {
		t.Cleanup(func() { topology.DeleteNamespace(ns) })
		if err := topology.CreateNamespace(ns); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "ip", "-n", l.B, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", l.B, "link", "set", "br0", "up")
	for i, h := range []struct {
		ns   string
		addr netip.Addr
	}{{l.H1, l.A1}, {l.H2, l.A2}} {
		port := fmt.Sprintf("p%d", i)
		run(t, "ip", "-n", l.B, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		run(t, "ip", "-n", l.B, "link", "set", port, "master", "br0", "up")
		run(t, "ip", "-n", h.ns, "addr", "add", h.addr.String()+"/24", "dev", "eth0")
		run(t, "ip", "-n", h.ns, "link", "set", "eth0", "up")
	}
	inNS(t, l.H1, "ping", "-n", "-q", "-c", "1", "-w", "10", l.A2.String()) // neighbours and bridge learned
	return l
}

// dropAcross traces a ping across the bridge that must be dropped and
// describes what dropped it.
func (l bridged) dropAcross(t *testing.T, id uint16) Rule {
	t.Helper()
	h, err := topology.OpenNamespace(l.B)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ns := Namespace{Handle: h, Name: l.B}
	p := Probe{Src: l.A1, Dst: l.A2, Proto: ProtoICMP, ICMPID: id, HasID: true}
	tr, err := Start(context.Background(), ns, []Probe{p}, &Config{Bridge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if exec.Command("ip", "netns", "exec", l.H1, "ping", "-n", "-c", "1", "-W", "1", "-e", fmt.Sprint(id), l.A2.String()).Run() == nil {
		t.Fatal("the ping crossed a bridge that drops it")
	}
	evs, err := tr.Events()
	if err != nil {
		t.Fatal(err)
	}
	pkts := Packets(evs)
	if len(pkts) != 1 || !pkts[0].Dropped() {
		t.Fatalf("packets %+v", pkts)
	}
	if d, ok := p.Match(pkts[0].Header); !ok || d != Forward {
		t.Fatalf("the bridged frame's header %+v", pkts[0].Header)
	}
	fate, _ := pkts[0].Fate()
	r := ruleOf(t, ns, fate)
	return r
}

// TestBridgeFamilyDrop: a bridge family rule drops the hosts' echo
// requests; with Config.Bridge the bridged frame is traced, the rule named.
func TestBridgeFamilyDrop(t *testing.T) {
	l := newBridged(t)
	nftScript(t, l.B, `table bridge filt {
	chain forward {
		type filter hook forward priority filter; policy accept;
		icmp type echo-request drop
	}
}`)
	r := l.dropAcross(t, 4105)
	if r.Family != FamilyBridge || r.Table != "filt" || r.Chain != "forward" || r.Xtables ||
		r.Handle != nftHandle(t, l.B, "bridge", "filt", "forward", 0) || !strings.HasSuffix(r.Text, "icmp type echo-request drop") {
		t.Fatalf("rule %+v", r)
	}
}

// TestBrNetfilterICCOff: iptables' FORWARD seeing bridged frames
// (br_netfilter), with Docker's enable_icc=false rule.
func TestBrNetfilterICCOff(t *testing.T) {
	l := newBridged(t)
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		labtest.Unavailable(t, "br_netfilter is not loaded (nsdump tests never load modules): %v", err)
	}
	inNS(t, l.B, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
	inNS(t, l.B, "iptables-nft", "-A", "FORWARD", "-i", "br0", "-o", "br0", "-j", "DROP")
	r := l.dropAcross(t, 4106)
	if r.Command() != "iptables -t filter -A FORWARD -i br0 -o br0 -j DROP" || r.Position != 1 {
		t.Fatalf("rule %+v (%s)", r, r.Command())
	}
}
