package netfilter

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"testing"

	"github.com/nsdump/nsdump/topology"
)

// TestPublishedPortDNAT: a published port as Docker writes it (nat
// PREROUTING -> DOCKER -> DNAT) in R; C connects to R's address. The trace
// names the DNAT rule and its path, and conntrack shows the translation to
// the server's port.
func TestPublishedPortDNAT(t *testing.T) {
	l := newRouted(t)
	backend := netip.AddrPortFrom(l.SAddr, 8080)
	for _, args := range [][]string{
		{"-t", "nat", "-N", "DOCKER"},
		{"-t", "nat", "-A", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER"},
		{"-t", "nat", "-A", "DOCKER", "-i", l.RSIf, "-j", "RETURN"},
		{"-t", "nat", "-A", "DOCKER", "!", "-i", l.RSIf, "-p", "tcp", "-m", "tcp", "--dport", "6543", "-j", "DNAT", "--to-destination", backend.String()},
	} {
		inNS(t, l.R, append([]string{"iptables-nft"}, args...)...)
	}
	p := Probe{Src: l.CAddr, Dst: l.RC, Proto: ProtoTCP, DstPort: 6543}
	r := l.ns(t, l.R)
	tr, err := Start(context.Background(), r, []Probe{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	// The backend listens: a connection only refused (a reset as the only
	// answer) leaves no entry, the kernel deletes it at once.
	ln := listen(t, l.ns(t, l.S), backend)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	if err := exec.Command("ip", "netns", "exec", l.C, "timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/"+l.RC.String()+"/6543").Run(); err != nil {
		t.Fatalf("connect to the published port: %v", err)
	}

	evs, err := tr.Events()
	if err != nil {
		t.Fatal(err)
	}
	var nat *Traversal
	for _, pk := range Packets(evs) {
		for _, w := range pk.Walks {
			if w.Table == "nat" && w.Decided != nil && w.Decided.Handle != 0 {
				nat = &w
			}
		}
	}
	if nat == nil {
		t.Fatalf("no nat decision traced in %d events", len(evs))
	}
	rule := ruleOf(t, r, *nat)
	wantText := "-A DOCKER ! -i " + l.RSIf + " -p tcp -m tcp --dport 6543 -j DNAT --to-destination " + backend.String()
	if !rule.Xtables || rule.Text != wantText || !slices.Equal(rule.ChainPath, []string{"PREROUTING", "DOCKER"}) || rule.Position != 2 {
		t.Fatalf("nat rule %+v, want %q by PREROUTING -> DOCKER", rule, wantText)
	}

	cts, err := ConntrackEntries(r, []Probe{p})
	if err != nil {
		t.Fatal(err)
	}
	if len(cts) != 1 {
		t.Fatalf("conntrack entries of %s: %+v", p, cts)
	}
	local := func(a netip.Addr) bool { return a == l.RC || a == l.RS }
	got := cts[0].Translations(local)
	want := []Translation{{Kind: DNAT, From: netip.AddrPortFrom(l.RC, 6543), To: backend}}
	if !slices.Equal(got, want) || cts[0].Status&StatusDstNAT == 0 {
		t.Fatalf("entry %+v: translations %v, want %v", cts[0], got, want)
	}
}

// listen opens a TCP listener inside ns (the socket made through the one
// namespace switch, used from here).
func listen(t *testing.T, ns Namespace, at netip.AddrPort) net.Listener {
	t.Helper()
	var ln net.Listener
	err := topology.Do(ns.Handle, func() error {
		var err error
		ln, err = net.Listen("tcp", at.String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestDNATToClosedPortSeenInEvents: the backend refuses (nothing listens),
// so the kernel deletes the entry at once and a dump after the probe finds
// nothing; the conntrack events recorded while tracing still show the
// translation and the deletion.
func TestDNATToClosedPortSeenInEvents(t *testing.T) {
	l := newRouted(t)
	backend := netip.AddrPortFrom(l.SAddr, 8081)
	nftScript(t, l.R, `table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 6544 dnat to `+backend.String()+`
	}
}`)
	p := Probe{Src: l.CAddr, Dst: l.RC, Proto: ProtoTCP, DstPort: 6544}
	r := l.ns(t, l.R)
	tr, err := Start(context.Background(), r, []Probe{p}, &Config{Conntrack: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if exec.Command("ip", "netns", "exec", l.C, "timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/"+l.RC.String()+"/6544").Run() == nil {
		t.Fatal("connected to a backend where nothing listens")
	}
	if cts, err := ConntrackEntries(r, []Probe{p}); err != nil || len(cts) != 0 {
		t.Fatalf("dump after a refused connection: %+v %v, want the entry deleted", cts, err)
	}
	cts, err := tr.Conntrack()
	if err != nil {
		t.Fatal(err)
	}
	if len(cts) != 1 || !cts[0].Destroyed {
		t.Fatalf("conntrack events: %+v, want one entry, destroyed", cts)
	}
	want := []Translation{{Kind: DNAT, From: netip.AddrPortFrom(l.RC, 6544), To: backend}}
	if got := cts[0].Translations(nil); !slices.Equal(got, want) {
		t.Fatalf("translations %v, want %v", got, want)
	}
}
