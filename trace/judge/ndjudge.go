package judge

import (
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
)

// IPv6 neighbour discovery the kernel's trace saw a rule drop: the probe
// needed it (its first packet, or its answer, waits on a neighbour), yet
// it is no packet of the probe's flow. A ruleset with `policy drop` that
// forgets ICMPv6's ND types stops every v6 probe so, and the request and
// answer themselves are accepted wherever they get. Pure, like judge.go.

// ndName is an ND type as RFC 4861 names it.
func ndName(t uint8) string {
	switch t {
	case 133:
		return "router solicitation"
	case 134:
		return "router advertisement"
	case 135:
		return "neighbour solicitation"
	case 136:
		return "neighbour advertisement"
	case 137:
		return "redirect"
	}
	return fmt.Sprintf("ICMPv6 type %d", t)
}

// The ND types address resolution needs; a router solicitation or a
// redirect dropped stops no probe.
const (
	ndSolicit uint8 = 135
	ndAdvert  uint8 = 136
)

// ndDropped is the first drop of a neighbour solicitation or advertisement
// the trace saw in a namespace p crosses, when p is IPv6.
func ndDropped(f *facts.Facts, p facts.ProbeFacts) (facts.NFDecision, bool) {
	if !p.Request.Src.Is6() || p.Request.Src.Is4In6() {
		return facts.NFDecision{}, false
	}
	for _, d := range f.NFTrace {
		if (d.ND == ndSolicit || d.ND == ndAdvert) && d.Stops() && crosses(p, d.Namespace) {
			return d, true
		}
	}
	return facts.NFDecision{}, false
}

// ndVerdict is the verdict of a probe whose neighbour discovery d dropped.
func ndVerdict(f *facts.Facts, p facts.ProbeFacts, v Verdict, d facts.NFDecision) Verdict {
	said := fmt.Sprintf("nftables trace: neighbour discovery (NDP) was dropped in %s by %s: the %s %s -> %s",
		d.Namespace, decisionNamed(d), ndName(d.ND), addrOrNone(d.Src), addrOrNone(d.Dst))
	if len(d.Path) > 1 {
		said += ", reached by " + d.ChainPath()
	}
	said += fmt.Sprintf("; without it %s cannot resolve its IPv6 neighbour, so the probe's packets (the request or its answer) never leave; the probe's own packets were not what was dropped", d.Namespace)
	if d.WrittenBy != "" {
		said += fmt.Sprintf("; the rule is %s's: change it through %s", d.WrittenBy, d.WrittenBy)
	}
	detail := said
	if v.Story != "" {
		detail = v.Story + "; " + said
	}
	fix := acceptND(d)
	if fix == "" {
		fix = undoOf(d)
	}
	nv := Verdict{Cause: facts.CauseDropped, Namespace: d.Namespace, Detail: detail, Fix: fix, Story: v.Story, RouteGet: routeGetIn(p, d.Namespace)}
	nv.blamed.rule = true
	return nv
}

func addrOrNone(a netip.Addr) string {
	if !a.IsValid() {
		return "?"
	}
	return a.String()
}

// ndTypes are the ND types a host needs accepted to reach its neighbours
// and routers, as nft and ip6tables name them.
var (
	ndNft       = "{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert }"
	ndIptables  = []string{"neighbour-solicitation", "neighbour-advertisement", "router-advertisement"}
	ndFixFamily = map[string]bool{"inet": true, "ip6": true, "bridge": true, "netdev": true}
)

// acceptND is the command that accepts ND at the head of the base chain
// d was walking; none for names no command can carry.
func acceptND(d facts.NFDecision) string {
	if d.Xtables {
		if d.Family != "ip6" || cmdline.IptablesTable(d.Table) != nil || cmdline.IptablesChain(d.Base) != nil {
			return ""
		}
		var cs []cmdline.Command
		for _, t := range ndIptables {
			cs = append(cs, cmdline.InNamespace(d.Namespace, "ip6tables", "-t", d.Table, "-I", d.Base, "-p", "ipv6-icmp", "--icmpv6-type", t, "-j", "ACCEPT"))
		}
		return cmdline.Join(cs...)
	}
	if !ndFixFamily[d.Family] || cmdline.NftFamily(d.Family) != nil || cmdline.NftName(d.Table) != nil || cmdline.NftName(d.Base) != nil {
		return ""
	}
	return cmdline.InNamespace(d.Namespace, "nft", fmt.Sprintf("insert rule %s %s %s icmpv6 type %s accept", d.Family, d.Table, d.Base, ndNft)).String()
}
