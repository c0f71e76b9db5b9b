package trace

import (
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/topology"
)

// conflict is another interface answering for an address: the asker's
// neighbour entry holds its MAC, not the owner's.
type conflict struct {
	asker, dev string // the namespace whose neighbour entry points away, and its interface
	addr       netip.Addr
	mac        string
	owner      string // the namespace that should answer, and its MAC
	ownerMACs  []string
	impostor   string // the namespace and interface with that MAC, holding addr
	impIf      string
	impPrefix  netip.Prefix
}

// judgeConflict finds an address conflict: asker's neighbour entry for
// addr is a MAC that owner has on none of its interfaces, and candidates
// (the namespaces behind the bridge ports, say) holds that MAC on an
// interface that has addr too.
func judgeConflict(asker, owner *topology.NamespaceState, addr netip.Addr, candidates []*topology.NamespaceState) (conflict, bool) {
	c := conflict{asker: asker.Name, addr: addr, owner: owner.Name}
	for _, n := range asker.Neighbors {
		if n.Addr == addr && n.MAC != "" && n.State != "FAILED" && n.State != "INCOMPLETE" {
			c.dev, c.mac = n.Dev, n.MAC
		}
	}
	if c.mac == "" {
		return c, false
	}
	for _, l := range owner.Links {
		if l.MAC == c.mac {
			return c, false
		}
		c.ownerMACs = append(c.ownerMACs, l.MAC)
	}
	for _, st := range candidates {
		for _, l := range st.Links {
			for _, p := range l.Addresses {
				if l.MAC == c.mac && p.Addr() == addr {
					c.impostor, c.impIf, c.impPrefix = st.Name, l.Name, p
					return c, true
				}
			}
		}
	}
	return c, false
}

func (c conflict) verdict() (detail, fix string) {
	detail = fmt.Sprintf("%s/%s (MAC %s) also holds %s and answers for it: %s's neighbour entry for %s on %s is %s, not %s's; what %s sends to %s goes to %s",
		c.impostor, c.impIf, c.mac, c.addr, c.asker, c.addr, c.dev, c.mac, c.owner, c.asker, c.addr, c.impostor)
	fix = fmt.Sprintf("%s addr del %s dev %s && %s neigh del %s dev %s",
		topology.IPCommand(c.impostor), c.impPrefix, c.impIf, topology.IPCommand(c.asker), c.addr, c.dev)
	return detail, fix
}

// judgeConflicts looks, after the probes, at the neighbour entries both
// ends hold for each other's addresses; one that points at a third
// namespace's interface holding the same address is an address conflict,
// whatever the probes got (an echo the impostor answered is not ok).
func (res *Result) judgeConflicts(runs []*run) {
	states := map[string]*topology.NamespaceState{}
	var cands []*topology.NamespaceState
	for _, r := range runs {
		from, to := states[r.from.name], states[r.to.name]
		if from == nil || to == nil {
			var err1, err2 error
			from, err1 = topology.GatherState(r.from.name)
			to, err2 = topology.GatherState(r.to.name)
			if err1 != nil || err2 != nil {
				continue
			}
			states[r.from.name], states[r.to.name] = from, to
			cands = neighbours(from, to)
		}
		for _, q := range []struct {
			asker, owner *topology.NamespaceState
			addr         netip.Addr
		}{{from, to, r.dst}, {to, from, r.srcAddr()}} {
			c, ok := judgeConflict(q.asker, q.owner, q.addr, cands)
			if !ok {
				continue
			}
			detail, fix := c.verdict()
			for i := range res.Probes {
				p := &res.Probes[i]
				if p.Direction != r.direction() || p.Family != r.fam {
					continue
				}
				p.OK, p.Cause, p.Namespace, p.Fix = false, CauseConflict, c.impostor, fix
				p.Detail = detail + "; the probe's own verdict was: " + p.Detail
				res.OK = false
			}
			break
		}
	}
}

// neighbours are the namespaces behind the bridge ports and veth peers
// the two ends reach, read now: where an impostor may sit.
func neighbours(ends ...*topology.NamespaceState) []*topology.NamespaceState {
	var out []*topology.NamespaceState
	seen := map[string]bool{}
	for _, e := range ends {
		seen[e.Name] = true
	}
	var visit func(st *topology.NamespaceState, depth int)
	visit = func(st *topology.NamespaceState, depth int) {
		for _, l := range st.Links {
			if l.Peer == nil || l.Peer.Namespace == "" || seen[l.Peer.Namespace] || depth > 2 {
				continue
			}
			seen[l.Peer.Namespace] = true
			nst, err := topology.GatherState(l.Peer.Namespace)
			if err != nil {
				continue
			}
			out = append(out, nst)
			visit(nst, depth+1)
		}
	}
	for _, e := range ends {
		visit(e, 0)
	}
	return out
}
