package judge

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// arpKinds are the kinds of interface that resolve their neighbours with
// ARP unless told not to: a dummy or a tun is NOARP by nature.
var arpKinds = []string{"veth", "bridge", "macvlan", "vlan", "device", "bond"}

// arpOff is the first interface a packet following path leaves or enters
// a namespace by (bridge ports aside: they do not resolve) that has ARP
// turned off, and its namespace. An interface with ARP off answers no
// request for its addresses and sends to no resolved MAC: nothing crosses
// the link it is on, however the rest is set.
func arpOff(f *facts.Facts, path []facts.Hop) (string, *nsstate.LinkState) {
	for _, h := range path {
		if h.Role == facts.RoleBridge {
			continue
		}
		for _, name := range []string{h.In, h.Out} {
			if l := linkOf(f.State(h.Namespace), name); l != nil && l.NoARP && l.MAC != "" && slices.Contains(arpKinds, l.Kind) {
				return h.Namespace, l
			}
		}
	}
	return "", nil
}

func arpOffVerdict(ns string, l *nsstate.LinkState) Verdict {
	return Verdict{Cause: facts.CauseNeighbor, Namespace: ns, blamed: blame{noARP: true},
		Detail: fmt.Sprintf("ARP is off on %s in %s (the NOARP flag): %s neither answers ARP for %s's addresses nor resolves its neighbours there, so frames to and from it never reach the right MAC", l.Name, ns, ns, l.Name),
		Fix:    cmdline.IP(ns, "link", "set", "dev", l.Name, "arp", "on").String()}
}

// arpCulprits are the rules and chain policies of ns's arp family that
// drop ARP on the hooks (input, output): in each chain the first rule
// that drops, else its policy. Their conditions are not evaluated: an ARP
// drop in a namespace whose neighbours do not resolve is the suspect.
func arpCulprits(f *facts.Facts, ns string, hooks ...string) []facts.Rule {
	if !f.Spend(len(f.Rules)) {
		return nil
	}
	return chainCulprits(f.Rules, func(r facts.Rule) bool {
		return r.Namespace == ns && r.Family == "arp" && slices.Contains(hooks, r.Hook)
	}, func(r facts.Rule) bool {
		return r.Verdict.Stops() || r.Verdict == facts.RuleAccept && len(r.Conds) == 0
	})
}

// unresolved is ns's neighbour entry on dev for dst (or for the gateway
// of ns's route to dst) that never resolved, if there is one.
func unresolved(f *facts.Facts, ns, dev, iif string, dst netip.Addr) (nsstate.NeighborEntry, bool) {
	st := f.StateAfter(ns) // the neighbour tables as the probes left them
	if st == nil {
		st = f.State(ns)
	}
	if st == nil || dev == "" {
		return nsstate.NeighborEntry{}, false
	}
	nh := dst
	if lk, ok := f.Lookup(ns, dst, iif); ok && lk.Gateway.IsValid() {
		nh = lk.Gateway
	}
	for _, n := range st.Neighbors {
		if n.Dev == dev && n.Addr == nh && n.State.Unresolved() {
			return n, true
		}
	}
	return nsstate.NeighborEntry{}, false
}

// neighborVerdict: ns's ARP/ND for n.Addr on n.Dev got no answer. When
// the namespace that holds the address (or ns itself) has an ARP drop
// rule, that rule is the cause and its namespace the one to blame.
func neighborVerdict(f *facts.Facts, ns string, n nsstate.NeighborEntry) Verdict {
	v := Verdict{Cause: facts.CauseNeighbor, Namespace: ns, blamed: blame{neighborOf: ns},
		Detail: fmt.Sprintf("%s's neighbour entry for %s on %s is %s", ns, n.Addr, n.Dev, n.State)}
	if !n.Addr.Is4() {
		return v
	}
	owner := ""
	for _, st := range f.Namespaces {
		if st.Owns(n.Addr) {
			owner = st.Name
		}
	}
	for _, c := range []struct {
		ns    string
		hooks []string
		why   string
	}{{owner, []string{"input", "output"}, fmt.Sprintf("%s, which holds %s, drops ARP", owner, n.Addr)},
		{ns, []string{"output", "input"}, fmt.Sprintf("%s drops its own ARP", ns)}} {
		if c.ns == "" {
			continue
		}
		rs := arpCulprits(f, c.ns, c.hooks...)
		if len(rs) == 0 {
			continue
		}
		var names []string
		var fixes []cmdline.Command
		for _, r := range rs {
			names = append(names, ruleDescribe(r))
			fixes = append(fixes, ruleFix(r))
		}
		v.Namespace = c.ns
		v.Detail += fmt.Sprintf(": %s: %s", c.why, strings.Join(names, "; "))
		v.Fix = cmdline.Join(fixes...)
		return v
	}
	if owner == "" {
		v.Detail += fmt.Sprintf("; no namespace on the path holds %s", n.Addr)
	}
	return v
}
