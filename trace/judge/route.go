package judge

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
)

// wrongWay is a route that exists but sends the packet out of an
// interface that does not lead to the destination, while another does.
type wrongWay struct {
	ns, to      string       // the sender and the destination's namespace
	dst         netip.Addr   // what was looked up
	subnet      netip.Prefix // the destination's subnet, what the fix routes
	route       string       // the lookup's answer, as ip route get prints it
	dev, right  string       // the interface the route takes, and the one facing to
	devLeads    string       // where dev leads: its veth peer, or "" when nowhere known
	leftOnDev   int          // sightings of the packet leaving on dev
	resolution  string       // "ARP" or "neighbour discovery (NDP)"
	askedOnDev  bool         // a neighbour resolution was seen leaving on dev
	arrivedAtTo bool         // the packet was seen entering to
}

// judgeWrongWay is the verdict on a wrongWay; false when the facts do not
// show one (the packet arrived, or the route takes the right interface).
func judgeWrongWay(w wrongWay) (cause facts.Cause, detail, fix string, ok bool) {
	if w.arrivedAtTo || w.dev == "" || w.right == "" || w.dev == w.right {
		return "", "", "", false
	}
	leads := "no namespace nsdump knows"
	if w.devLeads != "" {
		leads = w.devLeads
	}
	detail = fmt.Sprintf("%s's route to %s (%s) leaves by %s, which leads to %s, not by %s, whose peer is in %s", w.ns, w.dst, w.route, w.dev, leads, w.right, w.to)
	var seen []string
	if w.leftOnDev > 0 {
		seen = append(seen, fmt.Sprintf("it was seen leaving on %s %d times", w.dev, w.leftOnDev))
	}
	if w.askedOnDev {
		seen = append(seen, fmt.Sprintf("%s for the next hop was seen leaving on %s", w.resolution, w.dev))
	}
	seen = append(seen, "nothing arrived in "+w.to)
	detail += ": " + strings.Join(seen, ", ")
	return facts.CauseWrongRoute, detail, cmdline.Route(w.ns, "replace", w.subnet, w.right).String(), true
}
