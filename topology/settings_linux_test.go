package topology

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

func TestReadSettings(t *testing.T) {
	ns := ksNamespace(t)
	run(t, "ip", "-n", ns.Name, "link", "add", "s0", "type", "veth", "peer", "name", "s1")
	for _, kv := range []string{
		"net.ipv4.ip_forward=1", "net.ipv4.conf.s0.forwarding=0", "net.ipv4.conf.all.rp_filter=1",
		"net.ipv4.conf.s1.rp_filter=2", "net.ipv4.icmp_echo_ignore_all=1", "net.ipv4.conf.s0.arp_ignore=2",
		"net.ipv4.conf.s1.proxy_arp=1", "net.ipv4.conf.s0.accept_local=1", "net.ipv6.conf.s1.forwarding=1",
		"net.ipv4.conf.all.arp_filter=1",
	} {
		inNS(t, ns, "sysctl", "-qw", kv)
	}
	s, err := ReadSettings(ns)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{
		"net.ipv4.ip_forward": s.IPForward, "net.ipv6.conf.all.forwarding": s.IPv6Forwarding,
		"net.ipv4.icmp_echo_ignore_all": s.ICMPEchoIgnoreAll, "net.ipv4.icmp_echo_ignore_broadcasts": s.ICMPEchoIgnoreBroadcast,
		"net.ipv6.icmp.echo_ignore_all": s.ICMPv6EchoIgnoreAll,
	}
	confs := map[string]nsstate.ConfV4{"all": s.All, "default": s.Default}
	for _, name := range []string{"s0", "s1", "lo"} {
		i := s.Interface(name)
		if i == nil {
			t.Fatalf("no settings for %s", name)
		}
		confs[name] = i.IPv4
		got["net.ipv6.conf."+name+".forwarding"] = i.IPv6Forwarding
	}
	for dir, c := range confs {
		for k, v := range map[string]int{"forwarding": c.Forwarding, "rp_filter": c.RPFilter, "accept_local": c.AcceptLocal,
			"arp_ignore": c.ARPIgnore, "arp_filter": c.ARPFilter, "arp_accept": c.ARPAccept, "proxy_arp": c.ProxyARP} {
			got["net.ipv4.conf."+dir+"."+k] = v
		}
	}
	for key, v := range got {
		want, err := strconv.Atoi(strings.TrimSpace(inNS(t, ns, "sysctl", "-n", key)))
		if err != nil || v != want {
			t.Errorf("%s = %d; sysctl says %d (%v)", key, v, want, err)
		}
	}
	checkEffective(t, s)
	checkBridgeNF(t, ns, s)
}

func checkEffective(t *testing.T, s *nsstate.Settings) {
	t.Helper()
	s0, _ := s.Effective("s0")
	s1, _ := s.Effective("s1")
	if s0.Forwarding != 0 || s1.Forwarding != 1 {
		t.Errorf("forwarding s0 %d s1 %d; want 0 and 1", s0.Forwarding, s1.Forwarding)
	}
	if s0.RPFilter != 1 || s1.RPFilter != 2 {
		t.Errorf("effective rp_filter s0 %d s1 %d; want 1 (all) and 2 (the larger)", s0.RPFilter, s1.RPFilter)
	}
	if s0.ARPFilter != 1 || s1.ProxyARP != 1 || s0.ProxyARP != 0 {
		t.Errorf("effective s0 %+v s1 %+v", s0, s1)
	}
	if _, ok := s.Effective("nosuch"); ok {
		t.Error("settings for an interface not asked")
	}
}

// checkBridgeNF: BridgeNF is there exactly when the namespace shows
// br_netfilter's sysctls, with sysctl's values.
func checkBridgeNF(t *testing.T, ns Held, s *nsstate.Settings) {
	t.Helper()
	out := strings.TrimSpace(inNS(t, ns, "sh", "-c", "cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo absent"))
	switch {
	case out == "absent" && s.BridgeNF != nil:
		t.Errorf("BridgeNF %+v without /proc/sys/net/bridge", s.BridgeNF)
	case out != "absent" && (s.BridgeNF == nil || strconv.Itoa(s.BridgeNF.CallIPTables) != out):
		t.Errorf("BridgeNF %+v; the namespace's file says %s", s.BridgeNF, out)
	}
}

// TestReadSettingsOwnNamespace: the values are the namespace's, not the
// caller's: two namespaces set apart read apart.
func TestReadSettingsOwnNamespace(t *testing.T) {
	a, b := ksNamespace(t), ksNamespace(t)
	inNS(t, a, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
	inNS(t, b, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=0")
	host, _ := os.ReadFile("/proc/sys/net/ipv4/icmp_echo_ignore_all")
	for ns, want := range map[Held]int{a: 1, b: 0} {
		s, err := ReadSettings(ns, "lo")
		if err != nil {
			t.Fatal(err)
		}
		if s.ICMPEchoIgnoreAll != want || len(s.Interfaces) != 1 {
			t.Errorf("%s: icmp_echo_ignore_all %d (host %s), interfaces %v; want %d", ns.Name, s.ICMPEchoIgnoreAll, strings.TrimSpace(string(host)), s.Interfaces, want)
		}
	}
	if _, err := ReadSettings(a, "../x"); err == nil {
		t.Error("an interface name with a path in it was read")
	}
}
