package netfilter

import (
	"fmt"
	"os"
	"testing"

	"github.com/nsdump/nsdump/topology"
)

// TestMayNAT: a namespace can translate once a nat chain (nft, or
// iptables-nft's nat table) or iptables-legacy's nat table is there, of
// either family; filter rules alone, in any back end, cannot.
func TestMayNAT(t *testing.T) {
	requireTools(t)
	tests := []struct {
		name  string
		setup [][]string
		want  bool
	}{
		{"nothing", nil, false},
		{"nft filter chain", [][]string{{"nft", "add table inet f; add chain inet f fw { type filter hook forward priority 0; }; add rule inet f fw drop"}}, false},
		{"nft nat chain", [][]string{{"nft", "add table ip n; add chain ip n pre { type nat hook prerouting priority -100; }"}}, true},
		{"iptables-nft dnat", [][]string{{"iptables-nft", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "6543", "-j", "DNAT", "--to-destination", "10.1.2.3:8080"}}, true},
		{"iptables-legacy filter", [][]string{{"iptables-legacy", "-A", "INPUT", "-j", "DROP"}}, false},
		{"iptables-legacy masquerade", [][]string{{"iptables-legacy", "-t", "nat", "-A", "POSTROUTING", "-j", "MASQUERADE"}}, true},
		{"ip6tables-legacy nat", [][]string{{"ip6tables-legacy", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "--dport", "6543", "-j", "REDIRECT", "--to-ports", "8080"}}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("nsdn3n-nat%04x%02x", os.Getpid()&0xffff, i)
			t.Cleanup(func() { topology.DeleteNamespace(name) })
			if err := topology.CreateNamespace(name); err != nil {
				t.Fatal(err)
			}
			for _, args := range tt.setup {
				inNS(t, name, args...)
			}
			h, err := topology.OpenNamespace(name)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			got, err := MayNAT(Namespace{Handle: h, Name: name})
			if err != nil || got != tt.want {
				t.Errorf("MayNAT = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
