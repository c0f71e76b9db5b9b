package topology

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

func TestLookupFixTable(t *testing.T) {
	tests := []struct {
		name  string
		l     nsstate.Lookup
		table string
		args  string
	}{
		{"rule to 100", nsstate.Lookup{Route: &nsstate.LookupRoute{}, Table: 100, Rule: &nsstate.PolicyRule{Table: 100}}, "100", "table 100"},
		{"main", nsstate.Lookup{Route: &nsstate.LookupRoute{}, Table: 254, Rule: &nsstate.PolicyRule{Table: 254}}, "main", ""},
		{"no route anywhere", nsstate.Lookup{Errno: 101}, "main", ""},
		{"prohibit rule", nsstate.Lookup{Errno: 13, Rule: &nsstate.PolicyRule{Action: "prohibit"}}, "", ""},
		{"answer without rule", nsstate.Lookup{Route: &nsstate.LookupRoute{}, Table: 300}, "300", "table 300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.FixTable(); got != tt.table {
				t.Errorf("FixTable = %q; want %q", got, tt.table)
			}
			if got := strings.Join(tt.l.FixArgs(), " "); got != tt.args {
				t.Errorf("FixArgs = %q; want %q", got, tt.args)
			}
		})
	}
}

// TestRuleSelector: lines iproute2 6.1 printed for these rules.
func TestRuleSelector(t *testing.T) {
	p := netip.MustParsePrefix
	got := ruleSelector(true, p("10.9.0.0/24"), p("1.2.3.0/24"), 0x10, 3, 0xf, "d0", "d1", &[2]uint32{5, 10}, 6, "dport 80")
	if want := "not from 10.9.0.0/24 to 1.2.3.0/24 tos 0x10 fwmark 0x3/0xf iif d0 oif d1 uidrange 5-10 ipproto tcp dport 80"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got = ruleSelector(false, p("10.77.1.1/32"), netip.Prefix{}, 0, 5, 0xffffffff, "", "", nil, 0, "")
	if want := "from 10.77.1.1 fwmark 0x5"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestSettingsEffective(t *testing.T) {
	s := nsstate.Settings{All: nsstate.ConfV4{RPFilter: 1, ARPIgnore: 0, ProxyARP: 1, Forwarding: 1},
		Interfaces: []nsstate.IfaceSettings{{Name: "e0", IPv4: nsstate.ConfV4{RPFilter: 2, ARPIgnore: 1, Forwarding: 0}}, {Name: "e1"}}}
	tests := []struct {
		iface string
		want  nsstate.ConfV4
	}{
		{"e0", nsstate.ConfV4{RPFilter: 2, ARPIgnore: 1, ProxyARP: 1}},
		{"e1", nsstate.ConfV4{RPFilter: 1, ProxyARP: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.iface, func(t *testing.T) {
			got, ok := s.Effective(tt.iface)
			if !ok || got != tt.want {
				t.Errorf("Effective = %+v %v; want %+v", got, ok, tt.want)
			}
		})
	}
}

func TestStateWords(t *testing.T) {
	for _, s := range []nsstate.PortState{nsstate.PortDisabled, nsstate.PortListening, nsstate.PortLearning, nsstate.PortForwarding, nsstate.PortBlocking, 9} {
		b, _ := json.Marshal(s)
		var back nsstate.PortState
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("port state %d: %s read back as %d (%v)", s, b, back, err)
		}
	}
	f := nsstate.AddrTentative | nsstate.AddrDADFailed
	if f.String() != "tentative dadfailed" {
		t.Errorf("flags %q", f)
	}
	var back nsstate.AddrFlags
	if err := back.UnmarshalText([]byte(f.String())); err != nil || back != f {
		t.Errorf("flags read back as %v", back)
	}
}

func TestListenerAccepts(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		local  string
		v6only bool
		dst    string
		want   bool
	}{
		{"127.0.0.1:80", false, "10.0.0.1", false},
		{"127.0.0.1:80", false, "127.0.0.1", true},
		{"0.0.0.0:80", false, "10.0.0.1", true},
		{"0.0.0.0:80", false, "fd00::1", false},
		{"[::]:80", false, "10.0.0.1", true},
		{"[::]:80", true, "10.0.0.1", false},
		{"[::]:80", true, "fd00::1", true},
		{"[fd00::1]:80", false, "fd00::2", false},
	}
	for _, tt := range tests {
		l := nsstate.Listener{Proto: "tcp", Local: netip.MustParseAddrPort(tt.local), V6Only: tt.v6only}
		if got := l.Accepts(a(tt.dst)); got != tt.want {
			t.Errorf("%s v6only=%v accepts %s: %v; want %v", tt.local, tt.v6only, tt.dst, got, tt.want)
		}
	}
}

func TestCheckNeighbor(t *testing.T) {
	states := []nsstate.NamespaceState{{Name: "B", Links: []nsstate.LinkState{{Name: "eth0", MAC: "02:00:00:00:00:02",
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}}}}}
	tests := []struct {
		name  string
		e     nsstate.NeighborEntry
		owner string
		wrong bool
	}{
		{"wrong permanent", nsstate.NeighborEntry{Addr: netip.MustParseAddr("10.0.0.2"), MAC: "02:00:00:00:00:99", State: nsstate.NeighPermanent}, "B", true},
		{"right", nsstate.NeighborEntry{Addr: netip.MustParseAddr("10.0.0.2"), MAC: "02:00:00:00:00:02", State: nsstate.NeighReachable}, "B", false},
		{"failed holds no MAC", nsstate.NeighborEntry{Addr: netip.MustParseAddr("10.0.0.2"), State: nsstate.NeighFailed}, "B", false},
		{"nobody's", nsstate.NeighborEntry{Addr: netip.MustParseAddr("10.0.0.9"), MAC: "02:00:00:00:00:99", State: nsstate.NeighPermanent}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := nsstate.CheckNeighbor(tt.e, states)
			if c.OwnerNamespace != tt.owner || c.Wrong != tt.wrong {
				t.Errorf("CheckNeighbor = %+v; want owner %q wrong %v", c, tt.owner, tt.wrong)
			}
		})
	}
}

// TestFactsReadBack: what the gatherers return is recorded as JSON and
// judged later from the file; every value must read back as it was.
func TestFactsReadBack(t *testing.T) {
	values := []any{
		&nsstate.Lookup{Namespace: "A", Route: &nsstate.LookupRoute{Type: "unicast", Dev: "u0", Line: "192.0.2.9 via 10.77.0.2 dev u0 table 100"},
			Table: 100, Rule: &nsstate.PolicyRule{Priority: 100, Selector: "from all fwmark 0x5", Action: "lookup 100", Table: 100},
			Passed: []nsstate.PolicyRule{{Priority: 0, Selector: "from all", Action: "lookup local", Table: 255}}},
		&nsstate.Lookup{Namespace: "A", Errno: 113, Error: "RTNETLINK answers: No route to host", Rule: &nsstate.PolicyRule{Priority: 210, Action: "lookup 400", Table: 400},
			Refusal: &nsstate.BlockingRoute{Type: "unreachable", Dst: netip.MustParsePrefix("192.0.2.0/24")}},
		&nsstate.Settings{Namespace: "R", IPForward: 1, All: nsstate.ConfV4{RPFilter: 1}, Interfaces: []nsstate.IfaceSettings{{Name: "e0", IPv4: nsstate.ConfV4{Forwarding: 0, RPFilter: 2}, IPv6Forwarding: -1}},
			BridgeNF: &nsstate.BridgeNF{CallIPTables: 1}},
		&nsstate.Bridge{Name: "br0", Up: true, STP: 1, Ports: []nsstate.BridgePort{{Name: "p1", Bridge: "br0", State: nsstate.PortBlocking, Isolated: true}}},
		&[]nsstate.BridgeFDBEntry{{MAC: "02:00:00:00:00:aa", Port: "p2", Bridge: "br0", State: "static"}},
		&[]nsstate.AddrState{{Interface: "x0", Prefix: netip.MustParsePrefix("fd55::1/64"), Flags: nsstate.AddrTentative | nsstate.AddrDADFailed}},
		&[]nsstate.Listener{{Proto: "tcp", Local: netip.MustParseAddrPort("127.0.0.1:7096")}, {Proto: "tcp", Local: netip.MustParseAddrPort("[::]:80"), V6Only: true}},
		&nsstate.NeighborCheck{Entry: nsstate.NeighborEntry{Dev: "n0", Addr: netip.MustParseAddr("10.0.0.2"), MAC: "02:00:00:00:00:99", State: nsstate.NeighPermanent},
			OwnerNamespace: "B", OwnerLink: "eth0", OwnerMAC: "02:00:00:00:00:02", Wrong: true},
	}
	for _, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(v, back) {
			t.Errorf("%s read back as %+v", b, back)
		}
	}
}
