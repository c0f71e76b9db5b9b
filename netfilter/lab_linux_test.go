package netfilter

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
)

// routed is a test lab of three namespaces: a client C and a server S on
// two subnets, and a router R between them, all named nsdnf-*.
type routed struct {
	C, R, S      string // namespace names
	CAddr, SAddr netip.Addr
	RC, RS       netip.Addr // the router's addresses toward C and S
	RCIf, RSIf   string     // the router's interfaces toward C and S
	CIf, SIf     string
	C6, S6, R6C  netip.Addr // IPv6: the client's, the server's, the router's toward C
	handles      map[string]Namespace
}

var labSeq atomic.Int32

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNS runs a command in a test namespace, as a host's tools would be run.
func inNS(t testing.TB, ns string, args ...string) string {
	t.Helper()
	return run(t, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// requireTools fails (or skips, outside CI) a test whose host lacks the
// tools the hosts it imitates use.
func requireTools(t testing.TB) {
	t.Helper()
	labtest.RequireRoot(t)
	for _, tool := range []string{"nft", "iptables-nft", "ip6tables-nft", "iptables-nft-save", "ip6tables-nft-save", "nsenter", "ping", "bash", "timeout"} {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.Unavailable(t, "needs %s (apt-get install nftables iptables iputils-ping util-linux)", tool)
		}
	}
}

func newRouted(t testing.TB) *routed {
	t.Helper()
	requireTools(t)
	n := labSeq.Add(1)
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, n&0xff)
	sub := 10 + int(n%200)
	l := &routed{
		C: "nsdnf-c" + tag, R: "nsdnf-r" + tag, S: "nsdnf-s" + tag,
		CAddr: netip.MustParseAddr(fmt.Sprintf("10.%d.1.2", sub)), RC: netip.MustParseAddr(fmt.Sprintf("10.%d.1.1", sub)),
		SAddr: netip.MustParseAddr(fmt.Sprintf("10.%d.2.2", sub)), RS: netip.MustParseAddr(fmt.Sprintf("10.%d.2.1", sub)),
		CIf: "nfc" + tag, RCIf: "nfrc" + tag, RSIf: "nfrs" + tag, SIf: "nfs" + tag,
		C6: netip.MustParseAddr(fmt.Sprintf("fd00:%x:1::2", sub)), R6C: netip.MustParseAddr(fmt.Sprintf("fd00:%x:1::1", sub)),
		S6:      netip.MustParseAddr(fmt.Sprintf("fd00:%x:2::2", sub)),
		handles: map[string]Namespace{},
	}
	for _, ns := range []string{l.C, l.R, l.S} {
		t.Cleanup(func() { topology.DeleteNamespace(ns) })
		if err := topology.CreateNamespace(ns); err != nil {
			t.Fatal(err)
		}
		inNS(t, ns, "ip", "link", "set", "lo", "up")
	}
	link := func(a, aIf string, aAddr netip.Addr, b, bIf string, bAddr netip.Addr) {
		run(t, "ip", "-n", a, "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b)
		run(t, "ip", "-n", a, "addr", "add", aAddr.String()+"/24", "dev", aIf)
		run(t, "ip", "-n", b, "addr", "add", bAddr.String()+"/24", "dev", bIf)
		v6 := func(v4 netip.Addr) string {
			o := v4.As4()
			return fmt.Sprintf("fd00:%x:%d::%d/64", o[1], o[2], o[3])
		}
		run(t, "ip", "-n", a, "addr", "add", v6(aAddr), "dev", aIf, "nodad")
		run(t, "ip", "-n", b, "addr", "add", v6(bAddr), "dev", bIf, "nodad")
		run(t, "ip", "-n", a, "link", "set", aIf, "up")
		run(t, "ip", "-n", b, "link", "set", bIf, "up")
	}
	link(l.C, l.CIf, l.CAddr, l.R, l.RCIf, l.RC)
	link(l.S, l.SIf, l.SAddr, l.R, l.RSIf, l.RS)
	run(t, "ip", "-n", l.C, "route", "add", "default", "via", l.RC.String())
	run(t, "ip", "-n", l.S, "route", "add", "default", "via", l.RS.String())
	run(t, "ip", "-n", l.C, "-6", "route", "add", "default", "via", l.R6C.String())
	run(t, "ip", "-n", l.S, "-6", "route", "add", "default", "via", fmt.Sprintf("fd00:%x:2::1", sub))
	inNS(t, l.R, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	// Neighbours resolved before any probe: a probe's packet held back
	// waiting for ARP or ND (whose first try a veth coming up can lose) would
	// reach the router after the test read its events.
	for _, hop := range []struct{ ns, to string }{
		{l.C, l.RC.String()}, {l.S, l.RS.String()}, {l.C, l.R6C.String()}, {l.S, fmt.Sprintf("fd00:%x:2::1", sub)},
	} {
		inNS(t, hop.ns, "ping", "-n", "-q", "-c", "1", "-w", "10", hop.to)
	}
	return l
}

// ns opens a namespace of the lab for the test's duration.
func (l *routed) ns(t testing.TB, name string) Namespace {
	t.Helper()
	if h, ok := l.handles[name]; ok {
		return h
	}
	h, err := topology.OpenNamespace(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	l.handles[name] = Namespace{Handle: h, Name: name}
	return l.handles[name]
}

// ping sends one echo request from C to S with a given identifier (ping -e
// sets it: the probe's spec) and reports whether it was answered.
func (l *routed) ping(t testing.TB, id uint16) bool {
	t.Helper()
	err := exec.Command("ip", "netns", "exec", l.C, "ping", "-n", "-c", "1", "-W", "1", "-e", fmt.Sprint(id), l.SAddr.String()).Run()
	return err == nil
}

// listTables is `nft list tables` in ns.
func listTables(t testing.TB, ns string) string {
	t.Helper()
	return inNS(t, ns, "nft", "list", "tables")
}

// nftScript loads an nft script in ns, as `nft -f` would from a file.
func nftScript(t testing.TB, ns, script string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f in %s: %v\n%s\n%s", ns, err, out, script)
	}
}

func parseProbeAddrs(src, dst string) (Probe, error) {
	s, err := netip.ParseAddr(src)
	if err != nil {
		return Probe{}, err
	}
	d, err := netip.ParseAddr(dst)
	if err != nil {
		return Probe{}, err
	}
	return Probe{Src: s, Dst: d, Proto: ProtoICMP, ICMPID: 7, HasID: true}, nil
}
