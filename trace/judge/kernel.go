package judge

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/trace/facts"
)

// socketDelivery are the kernel functions that hand a packet that has
// arrived to its socket: a drop there is of a packet the path delivered.
var socketDelivery = []string{"ping_rcv", "tcp_v4_rcv", "tcp_v6_rcv", "raw_rcv", "rawv6_rcv"}

// Stray reports whether a kernel drop of the probe's packets is trace's
// own making rather than the path's: a socket that closed throwing away
// what it held (QUEUE_PURGE); in the sender a packet the path delivered
// that no socket of the probe wanted any more: the duplicate of an echo
// reply its raw and datagram sockets both see (NO_SOCKET at ping_rcv), a
// SYN-ACK retransmitted after the probe's socket closed (NOT_SPECIFIED or
// NO_SOCKET at tcp_v4_rcv); in the destination, once its SYN-ACK was seen
// leaving or the SYN entered again, a retransmitted SYN its half-open
// connection answers again and then discards (NOT_SPECIFIED at tcp_v4_rcv). Such a drop says nothing of
// where the probe's packets were lost; it is kept, marked, never weighed
// against the verdict.
func Stray(p facts.ProbeFacts, kd facts.KernelDropSeen) bool {
	switch {
	case kd.Reason == "QUEUE_PURGE":
		return true
	case !slices.Contains(socketDelivery, kd.Location):
		return false
	case kd.Namespace == p.From:
		return true
	}
	synAgain := kd.Reason == "NOT_SPECIFIED" && (kd.What == "SYN" || strings.HasPrefix(kd.What, "TCP segment [S]"))
	if kd.Namespace != p.To || !synAgain || p.Refused {
		return false
	}
	// A SYN-ACK seen leaving, or the SYN seen entering more than once:
	// the half-open connection holds the first SYN, and its answer may
	// still wait on a neighbour the path never resolves (rp_filter in a
	// router refusing the destination's ARP).
	entered := 0
	for _, s := range p.RequestSeen {
		if s.Namespace == p.To && s.Dir == facts.DirIn {
			entered++
		}
	}
	return entered > 1 || slices.ContainsFunc(p.AnswerSeen, func(s facts.Sight) bool { return s.Namespace == p.To && s.Dir == facts.DirOut })
}

// kernelEvidence is what the kernel's drops of the probe say of its path: its
// drops less the stray ones.
func kernelEvidence(p facts.ProbeFacts) []facts.KernelDropSeen {
	var out []facts.KernelDropSeen
	for _, kd := range p.Drops {
		if !Stray(p, kd) {
			out = append(out, kd)
		}
	}
	return out
}

// kernelSaysOtherwise is what a failed verdict's detail adds when the
// kernel's drops of the probe do not fit it: both are said.
func kernelSaysOtherwise(v Verdict, drops []facts.KernelDropSeen) string {
	if v.OK || len(drops) == 0 {
		return ""
	}
	var other []string
	what := "" // the packet of the first drop that does not fit, not of the first drop
	for _, kd := range drops {
		if !kernelAgrees(v, kd) {
			if what == "" {
				what = kd.What
			}
			s := fmt.Sprintf("%s at %s in %s", kd.Reason, kd.Location, kd.Namespace)
			if !slices.Contains(other, s) {
				other = append(other, s)
			}
		}
	}
	if len(other) == 0 {
		return ""
	}
	return fmt.Sprintf("; the kernel says otherwise: it dropped the %s with %s (nsdump's diagnosis: %s in %s)",
		what, strings.Join(other, ", "), v.Cause, v.Namespace)
}

// causeReasons are the kernel's reasons that fit a cause; a cause not
// listed fits any reason in its namespace.
var causeReasons = map[facts.Cause][]string{
	facts.CauseNoRoute:       {"IP_OUTNOROUTES", "IP_INNOROUTES", "IP_INADDRERRORS"},
	facts.CauseNoReturnRoute: {"IP_OUTNOROUTES", "IP_INNOROUTES", "IP_INADDRERRORS", "IP_RPFILTER"},
	facts.CauseNeighbor:      {"NEIGH_FAILED", "NEIGH_QUEUEFULL", "NEIGH_DEAD", "NEIGH_CREATEFAIL"},
	facts.CausePortClosed:    {"NO_SOCKET"},
	facts.CauseRejected:      {"NETFILTER_DROP"},
}

// kernelAgrees reports whether a kernel drop fits the verdict: the same
// namespace, a reason that fits the cause, and for a drop the rule or
// setting nsdump named.
func kernelAgrees(v Verdict, kd facts.KernelDropSeen) bool {
	if v.Cause == facts.CauseMTU && kd.Reason == "PKT_TOO_BIG" {
		return true // the hop that cannot forward it, wherever the frag-needed dies
	}
	if v.Cause == facts.CauseLinkDown && slices.Contains(causeReasons[facts.CauseNeighbor], kd.Reason) && v.blamed.neighborOf == kd.Namespace {
		// A link down on the way of a neighbour resolution: the namespace
		// that asked gives up on its neighbour and drops what it queued.
		return true
	}
	if v.Cause == facts.CauseNeighbor {
		// A neighbour that never resolved drops in the namespace that
		// asked, wherever the cause lies; frames from an interface with
		// ARP off carry its own MAC, which the next hop drops as another
		// host's (a bridge, as a frame for the port it came from).
		if slices.Contains(causeReasons[facts.CauseNeighbor], kd.Reason) && v.blamed.neighborOf != "" && v.blamed.neighborOf == kd.Namespace {
			return true
		}
		noARPDrop := kd.Reason == "OTHERHOST" || strings.HasPrefix(kd.Location, "br_") || slices.Contains(causeReasons[facts.CauseNeighbor], kd.Reason)
		if kd.Namespace == v.Namespace && v.blamed.neighborOf == kd.Namespace && kd.Reason == "NOT_SPECIFIED" && strings.HasPrefix(kd.Location, "tcp_") {
			// A retransmitted SYN meets the connection whose answer waits
			// on the neighbour there, and the stack frees the duplicate.
			return true
		}
		if noARPDrop && (v.blamed.noARP || v.blamed.wrongMAC) {
			return true
		}
	}
	if v.Cause == facts.CauseDropped && v.blamed.neighborOf == kd.Namespace && slices.Contains(causeReasons[facts.CauseNeighbor], kd.Reason) {
		return true // the namespace that asked for a neighbour past the drop gives up on it
	}
	if v.Cause == facts.CauseWrongRoute && v.blamed.strayedTo != "" && kd.Namespace == v.blamed.strayedTo {
		return true // the wrong way's namespace has nowhere to send it
	}
	if v.Cause == facts.CauseConflict && kd.Namespace == v.blamed.heldFor && strings.HasPrefix(kd.Location, "tcp_") {
		// The namespace holding the address answers with its own stack
		// (a reset to a SYN-ACK it never asked for), which the sender's
		// connection drops.
		return true
	}
	if v.Cause == facts.CauseLoop && slices.Contains(strings.Split(v.blamed.loopOf, "\n"), kd.Namespace) {
		return true // a packet going round dies of its TTL wherever it is then
	}
	if kd.Namespace != v.Namespace {
		return false
	}
	if v.Cause == facts.CauseNoReturnRoute && kd.Reason == "NOT_SPECIFIED" && kd.Location == "icmpv6_rcv" {
		// An IPv6 destination with no route back frees the echo request
		// it could not answer (icmpv6_echo_reply fails, icmpv6_rcv drops).
		return true
	}
	if rs, ok := causeReasons[v.Cause]; ok {
		return slices.Contains(rs, kd.Reason)
	}
	if v.Cause != facts.CauseDropped {
		return true
	}
	// What the verdict found to blame, if anything.
	rule, rp := v.blamed.rule, v.blamed.rpFilter
	switch kd.Reason {
	case "NETFILTER_DROP":
		return rule || !rp
	case "IP_RPFILTER":
		return rp || !rule
	}
	return !rule && !rp
}
