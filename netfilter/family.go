package netfilter

import (
	"fmt"
	"strconv"
	"strings"
)

// Family is an nftables table family (the NFPROTO_* number).
type Family uint8

// The families a trace event or a table can have.
const (
	FamilyInet   Family = 1  // NFPROTO_INET
	FamilyIP     Family = 2  // NFPROTO_IPV4
	FamilyARP    Family = 3  // NFPROTO_ARP
	FamilyNetdev Family = 5  // NFPROTO_NETDEV
	FamilyBridge Family = 7  // NFPROTO_BRIDGE
	FamilyIP6    Family = 10 // NFPROTO_IPV6
)

// String is the family as nft writes it.
func (f Family) String() string {
	switch f {
	case FamilyInet:
		return "inet"
	case FamilyIP:
		return "ip"
	case FamilyIP6:
		return "ip6"
	case FamilyARP:
		return "arp"
	case FamilyBridge:
		return "bridge"
	case FamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family-%d", uint8(f))
}

// ParseFamily reads a family as nft writes it.
func ParseFamily(s string) (Family, error) {
	for _, f := range []Family{FamilyInet, FamilyIP, FamilyIP6, FamilyARP, FamilyBridge, FamilyNetdev} {
		if f.String() == s {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown nftables family %q", s)
}

// MarshalText and UnmarshalText keep families readable in JSON facts.
func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f *Family) UnmarshalText(b []byte) error {
	v, err := ParseFamily(string(b))
	*f = v
	return err
}

// TracePriority is the priority of nsdump's chains: before conntrack (-200)
// and iptables' raw table (-300), so that the trace flag is set before any
// other table sees the packet.
const TracePriority = -350

const (
	nftTableFOwner = 0x2 // NFT_TABLE_F_OWNER: the kernel removes the table with its socket
	reg1           = 1   // NFT_REG_1, 16 bytes: holds an IPv6 address
	nfDrop         = 0   // NF_DROP
	nfAccept       = 1   // NF_ACCEPT
)

// Table names one nftables table.
type Table struct {
	Family Family `json:"family"`
	Name   string `json:"name"`
}

func (t Table) String() string { return t.Family.String() + " " + t.Name }

// tableName is the name of the n-th table of this process: the PID says whose
// it is, the sequence keeps two tracers of one process apart.
func tableName(pid, n int) string { return fmt.Sprintf("nsdump_trace_%d_%d", pid, n) }

// ownTable says whether a name is one nsdump gives its tables: records
// never make nsdump delete a table it did not name.
func ownTable(name string) bool {
	rest, ok := strings.CutPrefix(name, "nsdump_trace_")
	if !ok {
		return false
	}
	pid, n, ok := strings.Cut(rest, "_")
	_, e1 := strconv.Atoi(pid)
	_, e2 := strconv.Atoi(n)
	return ok && e1 == nil && e2 == nil
}
