package topology

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

// TestAddressStatesDAD: B has fd55::1 already; A adds it with DAD on a
// veth to B, B answers, and A's copy turns dadfailed. A deprecated address
// (preferred_lft 0) beside it.
func TestAddressStatesDAD(t *testing.T) {
	a, b := ksNamespace(t), ksNamespace(t)
	run(t, "ip", "-n", a.Name, "link", "add", "x0", "type", "veth", "peer", "name", "x1", "netns", b.Name)
	run(t, "ip", "-n", b.Name, "addr", "add", "fd55::1/64", "dev", "x1", "nodad")
	run(t, "ip", "-n", b.Name, "link", "set", "x1", "up")
	run(t, "ip", "-n", a.Name, "link", "set", "x0", "up")
	run(t, "ip", "-n", a.Name, "addr", "add", "fd55::1/64", "dev", "x0")
	run(t, "ip", "-n", a.Name, "addr", "add", "fd55::9/64", "dev", "x0", "preferred_lft", "0", "nodad")
	dup := netip.MustParsePrefix("fd55::1/64")
	var states []nsstate.AddrState
	pollUntil(t, "fd55::1 dadfailed in A", func() bool {
		var err error
		if states, err = AddressStates(a); err != nil {
			t.Fatal(err)
		}
		s := findAddr(states, dup)
		return s != nil && s.Flags&nsstate.AddrDADFailed != 0
	})
	if s := findAddr(states, dup); s.Usable() || s.Flags&nsstate.AddrTentative == 0 {
		t.Errorf("fd55::1 %q; want tentative dadfailed, not usable", s.Flags)
	}
	if s := findAddr(states, netip.MustParsePrefix("fd55::9/64")); s == nil || s.Flags&nsstate.AddrDeprecated == 0 || !s.Usable() {
		t.Errorf("fd55::9: %+v; want deprecated and usable", s)
	}
	compareAddrFlags(t, a, states)
	bs, err := AddressStates(b)
	if err != nil {
		t.Fatal(err)
	}
	if s := findAddr(bs, dup); s == nil || !s.Usable() {
		t.Errorf("B's fd55::1 %+v; want usable", s)
	}
}

func findAddr(states []nsstate.AddrState, p netip.Prefix) *nsstate.AddrState {
	for i := range states {
		if states[i].Prefix == p {
			return &states[i]
		}
	}
	return nil
}

// compareAddrFlags checks the flags of every address but the link-local
// ones (still under DAD while the test reads) with `ip -j addr`.
func compareAddrFlags(t *testing.T, ns Held, states []nsstate.AddrState) {
	t.Helper()
	var links []struct {
		Ifname   string
		AddrInfo []map[string]any `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(run(t, "ip", "-n", ns.Name, "-j", "addr")), &links); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range links {
		for _, ai := range l.AddrInfo {
			p := netip.MustParsePrefix(ai["local"].(string) + "/" + jsonInt(ai["prefixlen"]))
			if p.Addr().IsLinkLocalUnicast() {
				continue
			}
			var words []string
			// Every flag word AddrFlags writes, in its order.
			for _, word := range strings.Fields(nsstate.AddrFlags(^uint32(0)).String()) {
				if ai[word] == true {
					words = append(words, word)
				}
			}
			s := findAddr(states, p)
			n++
			if s == nil || s.Interface != l.Ifname || s.Flags.String() != strings.Join(words, " ") {
				t.Errorf("%s on %s: ip says %q; AddressStates %+v", p, l.Ifname, words, s)
			}
		}
	}
	ours := 0
	for _, st := range states {
		if !st.Prefix.Addr().IsLinkLocalUnicast() {
			ours++
		}
	}
	if n != ours || n < 4 {
		t.Errorf("%d addresses (not link-local); ip shows %d", ours, n)
	}
}

func jsonInt(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
