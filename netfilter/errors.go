package netfilter

import "fmt"

// Unreadable is evidence that could not be read: which, in which namespace,
// and why. Trace turns it into a gap fact; errors.As finds it in any error
// this package returns for a failed read.
type Unreadable struct {
	What      string // "nftables trace", "conntrack", "nftables rules", "iptables-nft-save"...
	Namespace string // as the caller named it
	Err       error
}

func (e *Unreadable) Error() string {
	return fmt.Sprintf("could not read %s in %s: %v", e.What, e.Namespace, e.Err)
}

func (e *Unreadable) Unwrap() error { return e.Err }

func unreadable(what, ns string, err error) error {
	return &Unreadable{What: what, Namespace: ns, Err: err}
}
