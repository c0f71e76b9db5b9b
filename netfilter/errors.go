package netfilter

import "github.com/nsdump/nsdump/topology"

// Unreadable is evidence that could not be read: which ("nftables trace",
// "conntrack", "nftables rules", "iptables-nft-save"...), in which
// namespace, and why. It is topology's type, so that one errors.As finds
// what either package could not read; trace turns it into a gap fact.
type Unreadable = topology.Unreadable

func unreadable(what, ns string, err error) error {
	return &Unreadable{What: what, Namespace: ns, Err: err}
}
