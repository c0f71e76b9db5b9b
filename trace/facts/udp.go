package facts

import "net/netip"

// The datagram probes: udp (a datagram each way to --udp PORT, echoed by
// the responder trace runs there) and dns (a query from the namespace to
// the nameserver its resolv.conf names).
const (
	KindUDP ProbeKind = "udp"
	KindDNS ProbeKind = "dns"
)

// Causes of a dns probe whose nameserver answered without an address.
const (
	CauseNXDomain Cause = "nxdomain"
	CauseDNS      Cause = "dns-error"
)

// DNSFacts is what the dns probe asked, of whom, and what came back.
type DNSFacts struct {
	Name string `json:"name"` // the last name asked, fully qualified
	// Tried are the names asked before it, from resolv.conf's search
	// list, which the server said do not exist or have no address.
	Tried []string `json:"tried,omitempty"`
	// Server is the nameserver asked, the first of ResolvConf's.
	Server     netip.Addr `json:"server"`
	ResolvConf string     `json:"resolv_conf"` // the file it was read from
	// Answered: a response came back; RCode is its code (NOERROR,
	// NXDOMAIN, SERVFAIL, REFUSED, ...) and Addresses the A and AAAA
	// records it gave.
	Answered  bool         `json:"answered,omitempty"`
	RCode     string       `json:"rcode,omitempty"`
	Addresses []netip.Addr `json:"addresses,omitempty"`
	// CNAMEs are the aliases the answer led through, in order: the name
	// asked is an alias of the first, and so on; the addresses are the
	// last one's.
	CNAMEs []string `json:"cnames,omitempty"`
	// Truncated: a response had the TC bit (too large for a datagram); a
	// resolver asks again over TCP, which the probe does not.
	Truncated bool `json:"truncated,omitempty"`
}

// Ports reports whether the packet's protocol has ports.
func (p Packet) Ports() bool { return p.Proto == "tcp" || p.Proto == "udp" }

// Datagram reports whether p is a udp or dns probe.
func (p ProbeFacts) Datagram() bool { return p.Kind == KindUDP || p.Kind == KindDNS }
