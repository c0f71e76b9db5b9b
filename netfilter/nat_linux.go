package netfilter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// MayNAT says whether anything in the namespace can translate addresses:
// an nftables chain of type nat (iptables-nft's nat table makes them) or
// iptables-legacy's nat table, loaded. It reads which hooks exist, never
// what they match: a namespace without one makes no DNAT, so a trace need
// not ask the kernel where its flows go there.
func MayNAT(ns Namespace) (bool, error) {
	c, err := dial(ns.Handle)
	if err != nil {
		return false, unreadable("nftables chains", ns.Name, err)
	}
	defer c.close()
	msgs, err := c.dump(message{Type: nftMsg(unix.NFT_MSG_GETCHAIN), Family: unix.NFPROTO_UNSPEC})
	if err != nil {
		return false, unreadable("nftables chains", ns.Name, fmt.Errorf("list chains: %w", err))
	}
	for _, m := range msgs {
		_, attrs, err := nfgen(m.Payload)
		if err != nil {
			return false, unreadable("nftables chains", ns.Name, err)
		}
		for _, a := range attrs {
			if a.Type == unix.NFTA_CHAIN_TYPE && a.str() == "nat" {
				return true, nil
			}
		}
	}
	return legacyNAT(ns)
}

// legacyNAT says whether iptables-legacy's nat table (either family) is
// loaded in the namespace: /proc/net's table names, as the namespace's
// own thread sees them.
func legacyNAT(ns Namespace) (bool, error) {
	for _, name := range []string{"ip_tables_names", "ip6_tables_names"} {
		var f *os.File
		err := topology.Do(ns.Handle, func() error {
			var err error
			f, err = os.Open("/proc/thread-self/net/" + name)
			return err
		})
		if errors.Is(err, fs.ErrNotExist) {
			continue // x_tables not loaded: no legacy table at all
		}
		if err != nil {
			return false, unreadable("iptables-legacy tables", ns.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(f, 1<<12))
		f.Close()
		if err != nil {
			return false, unreadable("iptables-legacy tables", ns.Name, err)
		}
		if bytes.Contains(append([]byte("\n"), b...), []byte("\nnat\n")) {
			return true, nil
		}
	}
	return false, nil
}
