package netfilter

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// traceProbe traces one ping from C to S through R and returns the packets
// of the probe's flow seen in R.
func traceProbe(t *testing.T, l *routed, in string, id uint16) (answered bool, pkts []Packet) {
	t.Helper()
	p := Probe{Src: l.CAddr, Dst: l.SAddr, Proto: ProtoICMP, ICMPID: id, HasID: true}
	tr, err := Start(context.Background(), l.ns(t, in), []Probe{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	answered = l.ping(t, id)
	evs, err := tr.Events()
	if err != nil {
		t.Fatal(err)
	}
	for _, pk := range Packets(evs) {
		if _, ok := p.Match(pk.Header); !ok {
			t.Fatalf("a packet outside the probe's flow was traced: %+v", pk.Header)
		}
		pkts = append(pkts, pk)
	}
	return answered, pkts
}

// nftHandle is the handle of the n-th rule (from 0) of a chain, read from
// nft's JSON listing: a path independent of the code under test.
func nftHandle(t *testing.T, ns, family, table, chain string, n int) uint64 {
	t.Helper()
	out := inNS(t, ns, "nft", "-j", "-a", "list", "chain", family, table, chain)
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Handle uint64 `json:"handle"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var hs []uint64
	for _, o := range doc.Nftables {
		if o.Rule != nil {
			hs = append(hs, o.Rule.Handle)
		}
	}
	if n >= len(hs) {
		t.Fatalf("chain %s has %d rules: %s", chain, len(hs), out)
	}
	return hs[n]
}

// decision traces a ping that must be dropped in R and describes the rule.
func decision(t *testing.T, l *routed, id uint16) Rule {
	t.Helper()
	return decisionIn(t, l, l.R, id)
}

// decisionIn traces a ping that must be dropped in namespace in.
func decisionIn(t *testing.T, l *routed, in string, id uint16) Rule {
	t.Helper()
	answered, pkts := traceProbe(t, l, in, id)
	if answered {
		t.Fatal("the ping was answered through a ruleset that drops it")
	}
	if len(pkts) != 1 || !pkts[0].Dropped() {
		t.Fatalf("want one dropped packet, got %+v", pkts)
	}
	fate, _ := pkts[0].Fate()
	r := ruleOf(t, l.ns(t, in), fate)
	return r
}

// ruleOf is the rule that, by ns's ruleset now, made the decision w traced.
func ruleOf(t *testing.T, ns Namespace, w Traversal) Rule {
	t.Helper()
	rules, err := NewRules(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer rules.Close()
	r, err := rules.Decision(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDockerIsolationChains(t *testing.T) {
	l := newRouted(t)
	for _, args := range [][]string{
		{"-N", "DOCKER-USER"}, {"-N", "DOCKER-ISOLATION-STAGE-1"}, {"-N", "DOCKER-ISOLATION-STAGE-2"},
		{"-A", "FORWARD", "-j", "DOCKER-USER"},
		{"-A", "FORWARD", "-j", "DOCKER-ISOLATION-STAGE-1"},
		{"-A", "FORWARD", "-o", l.RSIf, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
		{"-A", "DOCKER-USER", "-j", "RETURN"},
		{"-A", "DOCKER-ISOLATION-STAGE-1", "-i", l.RCIf, "!", "-o", l.RCIf, "-j", "DOCKER-ISOLATION-STAGE-2"},
		{"-A", "DOCKER-ISOLATION-STAGE-1", "-i", l.RSIf, "!", "-o", l.RSIf, "-j", "DOCKER-ISOLATION-STAGE-2"},
		{"-A", "DOCKER-ISOLATION-STAGE-1", "-j", "RETURN"},
		{"-A", "DOCKER-ISOLATION-STAGE-2", "-o", l.RCIf, "-j", "DROP"},
		{"-A", "DOCKER-ISOLATION-STAGE-2", "-o", l.RSIf, "-j", "DROP"},
		{"-A", "DOCKER-ISOLATION-STAGE-2", "-j", "RETURN"},
	} {
		inNS(t, l.R, append([]string{"iptables-nft"}, args...)...)
	}
	r := decision(t, l, 4101)
	want := Rule{
		Family: FamilyIP, Table: "filter", Chain: "DOCKER-ISOLATION-STAGE-2",
		Handle:    nftHandle(t, l.R, "ip", "filter", "DOCKER-ISOLATION-STAGE-2", 1),
		Position:  2,
		Text:      "-A DOCKER-ISOLATION-STAGE-2 -o " + l.RSIf + " -j DROP",
		Xtables:   true,
		ChainPath: []string{"FORWARD", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2"},
	}
	if !sameRule(r, want) {
		t.Fatalf("decision:\n got %+v\nwant %+v", r, want)
	}
	if got := r.Command(); got != "iptables -t filter -A DOCKER-ISOLATION-STAGE-2 -o "+l.RSIf+" -j DROP" {
		t.Errorf("command %q", got)
	}
	if r.WrittenBy() != "docker" {
		t.Errorf("written by %q", r.WrittenBy())
	}
	// The undo works as printed: the rule is gone, its neighbours stay.
	inNS(t, l.R, "sh", "-c", r.Undo())
	save := inNS(t, l.R, "iptables-nft-save", "-t", "filter")
	if strings.Contains(save, r.Text) || !strings.Contains(save, "-A DOCKER-ISOLATION-STAGE-2 -o "+l.RCIf+" -j DROP") {
		t.Fatalf("after %s:\n%s", r.Undo(), save)
	}
}

func TestNftPolicyDrop(t *testing.T) {
	l := newRouted(t)
	nftScript(t, l.R, `table inet fw {
	chain forward {
		type filter hook forward priority filter; policy drop;
		tcp dport 22 accept
		jump counted
	}
	chain counted {
		counter
	}
}`)
	r := decision(t, l, 4102)
	want := Rule{Family: FamilyInet, Table: "fw", Chain: "forward", Text: "policy drop", Policy: true, ChainPath: []string{"forward"}}
	if !sameRule(r, want) {
		t.Fatalf("decision:\n got %+v\nwant %+v", r, want)
	}
	undoAndPing(t, l, r)
}

func TestNftRuleDrop(t *testing.T) {
	l := newRouted(t)
	nftScript(t, l.R, `table ip fw {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip protocol tcp accept
		goto checks
	}
	chain checks {
		icmp type echo-reply accept
		icmp type echo-request counter drop
	}
}`)
	r := decision(t, l, 4103)
	want := Rule{Family: FamilyIP, Table: "fw", Chain: "checks", Handle: nftHandle(t, l.R, "ip", "fw", "checks", 1),
		Position: 2, Text: "icmp type echo-request counter drop", ChainPath: []string{"forward", "checks"}}
	if !sameRule(r, want) {
		t.Fatalf("decision:\n got %+v\nwant %+v", r, want)
	}
	undoAndPing(t, l, r)
}

func sameRule(a, b Rule) bool {
	return slices.Equal(a.ChainPath, b.ChainPath) && a.Family == b.Family && a.Table == b.Table &&
		a.Chain == b.Chain && a.Handle == b.Handle && a.Position == b.Position && a.Text == b.Text &&
		a.Xtables == b.Xtables && a.Policy == b.Policy
}

var _ = errors.New
var _ = strings.Contains

func TestIP6tablesDrop(t *testing.T) {
	l := newRouted(t)
	inNS(t, l.R, "ip6tables-nft", "-A", "FORWARD", "-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type", "echo-request", "-j", "DROP")
	p := Probe{Src: l.C6, Dst: l.S6, Proto: ProtoICMPv6, ICMPID: 4104, HasID: true}
	tr, err := Start(context.Background(), l.ns(t, l.R), []Probe{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if exec.Command("ip", "netns", "exec", l.C, "ping", "-6", "-n", "-c", "1", "-W", "1", "-e", "4104", l.S6.String()).Run() == nil {
		t.Fatal("the ping was answered through a rule that drops it")
	}
	evs, err := tr.Events()
	if err != nil {
		t.Fatal(err)
	}
	var dropped []Packet
	for _, pk := range Packets(evs) {
		if d, ok := p.Match(pk.Header); ok && d == Forward && pk.Dropped() {
			dropped = append(dropped, pk)
		}
	}
	if len(dropped) != 1 {
		t.Fatalf("dropped packets of %s: %+v", p, dropped)
	}
	fate, _ := dropped[0].Fate()
	r := ruleOf(t, l.ns(t, l.R), fate)
	if want := "ip6tables -t filter -A FORWARD -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j DROP"; r.Command() != want || r.Family != FamilyIP6 || r.Position != 1 {
		t.Fatalf("rule %+v (%q), want %q", r, r.Command(), want)
	}
}

func TestIptablesPolicyDrop(t *testing.T) {
	l := newRouted(t)
	inNS(t, l.R, "iptables-nft", "-P", "FORWARD", "DROP")
	inNS(t, l.R, "iptables-nft", "-A", "FORWARD", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
	r := decision(t, l, 4107)
	want := Rule{Family: FamilyIP, Table: "filter", Chain: "FORWARD", Text: "-P FORWARD DROP", Xtables: true, Policy: true, ChainPath: []string{"FORWARD"}}
	if !sameRule(r, want) || r.Command() != "iptables -t filter -P FORWARD DROP" {
		t.Fatalf("decision:\n got %+v\nwant %+v", r, want)
	}
	undoAndPing(t, l, r)
}

// TestOutputDropAtTheSource: the source's own output chain drops the probe;
// nsdump's output chain marks it first.
func TestOutputDropAtTheSource(t *testing.T) {
	l := newRouted(t)
	nftScript(t, l.C, `table inet host {
	chain output {
		type filter hook output priority filter; policy accept;
		ip daddr `+l.SAddr.String()+` icmp type echo-request drop
	}
}`)
	r := decisionIn(t, l, l.C, 4108)
	want := Rule{Family: FamilyInet, Table: "host", Chain: "output", Handle: nftHandle(t, l.C, "inet", "host", "output", 0),
		Position: 1, Text: "ip daddr " + l.SAddr.String() + " icmp type echo-request drop", ChainPath: []string{"output"}}
	if !sameRule(r, want) {
		t.Fatalf("decision:\n got %+v\nwant %+v", r, want)
	}
}

// undoAndPing runs the rule's undo as printed in R; then the ping passes.
func undoAndPing(t *testing.T, l *routed, r Rule) {
	t.Helper()
	inNS(t, l.R, "sh", "-c", r.Undo())
	if !l.ping(t, 4199) {
		t.Fatalf("after %s the ping still fails", r.Undo())
	}
}
