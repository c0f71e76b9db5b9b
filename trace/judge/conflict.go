package judge

import (
	"fmt"
	"net/netip"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
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
func judgeConflict(asker, owner *nsstate.NamespaceState, addr netip.Addr, candidates []*nsstate.NamespaceState) (conflict, bool) {
	c := conflict{asker: asker.Name, addr: addr, owner: owner.Name}
	for _, n := range asker.Neighbors {
		if n.Addr == addr && n.MAC != "" && !n.State.Unresolved() {
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
	fix = cmdline.Join(cmdline.IP(c.impostor, "addr", "del", c.impPrefix.String(), "dev", c.impIf),
		cmdline.IP(c.asker, "neigh", "del", c.addr.String(), "dev", c.dev))
	return detail, fix
}
