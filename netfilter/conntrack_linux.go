package netfilter

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// ConntrackEntries reads the conntrack table of ns (both IP families) and
// returns the entries of the probes' flows; no probes: every entry.
func ConntrackEntries(ns Namespace, probes []Probe) ([]Conntrack, error) {
	c, err := dial(ns.Handle)
	if err != nil {
		return nil, unreadable("conntrack", ns.Name, err)
	}
	defer c.close()
	msgs, err := c.dump(message{Type: uint16(unix.NFNL_SUBSYS_CTNETLINK<<8 | ipctnlMsgCtGet), Family: unix.AF_UNSPEC})
	if err != nil {
		return nil, unreadable("conntrack", ns.Name, fmt.Errorf("dump the conntrack table: %w", err))
	}
	var out []Conntrack
	for _, m := range msgs {
		ct, err := ParseConntrack(m.Payload)
		if err != nil {
			return out, unreadable("conntrack", ns.Name, err)
		}
		if len(probes) == 0 || matchesAny(ct, probes) {
			out = append(out, ct)
		}
	}
	return out, nil
}

func matchesAny(ct Conntrack, probes []Probe) bool {
	for _, p := range probes {
		if ct.Matches(p) {
			return true
		}
	}
	return false
}
