package netfilter

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// Family is an nftables table family (the NFPROTO_* number).
type Family uint8

// The families a trace event or a table can have.
const (
	FamilyInet   Family = unix.NFPROTO_INET
	FamilyIP     Family = unix.NFPROTO_IPV4
	FamilyIP6    Family = unix.NFPROTO_IPV6
	FamilyARP    Family = unix.NFPROTO_ARP
	FamilyBridge Family = unix.NFPROTO_BRIDGE
	FamilyNetdev Family = unix.NFPROTO_NETDEV
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

func nftMsg(t int) uint16 { return uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | t) }

// traceBatch is the transaction that creates t with two chains, at the
// earliest prerouting and output hooks, whose rules set nftrace on the
// probes' packets in both directions and on nothing else.
func traceBatch(t Table, probes []Probe, owner bool) []message {
	var flags uint32
	if owner {
		flags = nftTableFOwner
	}
	var e encoder
	e.str(unix.NFTA_TABLE_NAME, t.Name)
	e.be32(unix.NFTA_TABLE_FLAGS, flags)
	msgs := []message{{Type: nftMsg(unix.NFT_MSG_NEWTABLE), Flags: unix.NLM_F_CREATE | unix.NLM_F_EXCL, Family: uint8(t.Family), Attrs: e.b}}
	for _, hook := range []struct {
		name string
		num  uint32
	}{{"pre", unix.NF_INET_PRE_ROUTING}, {"out", unix.NF_INET_LOCAL_OUT}} {
		msgs = append(msgs, chainMsg(t, hook.name, hook.num))
		for _, p := range probes {
			for _, dir := range []Probe{p, p.reverse()} {
				msgs = append(msgs, ruleMsg(t, hook.name, dir))
			}
		}
	}
	return msgs
}

func chainMsg(t Table, name string, hook uint32) message {
	var e encoder
	e.str(unix.NFTA_CHAIN_TABLE, t.Name)
	e.str(unix.NFTA_CHAIN_NAME, name)
	end := e.nest(unix.NFTA_CHAIN_HOOK)
	e.be32(unix.NFTA_HOOK_HOOKNUM, hook)
	prio := int32(TracePriority)
	e.be32(unix.NFTA_HOOK_PRIORITY, uint32(prio))
	end()
	e.be32(unix.NFTA_CHAIN_POLICY, nfAccept)
	e.str(unix.NFTA_CHAIN_TYPE, "filter")
	return message{Type: nftMsg(unix.NFT_MSG_NEWCHAIN), Flags: unix.NLM_F_CREATE, Family: uint8(t.Family), Attrs: e.b}
}

// ruleMsg is `<match p> meta nftrace set 1`, written as nft would compile it.
func ruleMsg(t Table, chain string, p Probe) message {
	var e encoder
	e.str(unix.NFTA_RULE_TABLE, t.Name)
	e.str(unix.NFTA_RULE_CHAIN, chain)
	end := e.nest(unix.NFTA_RULE_EXPRESSIONS)
	v4 := p.Src.Unmap().Is4()
	if t.Family == FamilyBridge {
		proto := uint16(unix.ETH_P_IPV6)
		if v4 {
			proto = unix.ETH_P_IP
		}
		metaLoad(&e, unix.NFT_META_PROTOCOL)
		cmpEq(&e, binary.BigEndian.AppendUint16(nil, proto))
	} else {
		nfproto := byte(unix.NFPROTO_IPV6)
		if v4 {
			nfproto = unix.NFPROTO_IPV4
		}
		metaLoad(&e, unix.NFT_META_NFPROTO)
		cmpEq(&e, []byte{nfproto})
	}
	metaLoad(&e, unix.NFT_META_L4PROTO)
	cmpEq(&e, []byte{p.Proto})
	src, dst := p.Src.Unmap().AsSlice(), p.Dst.Unmap().AsSlice()
	srcOff, dstOff := uint32(8), uint32(24)
	if v4 {
		srcOff, dstOff = 12, 16
	}
	payloadEq(&e, unix.NFT_PAYLOAD_NETWORK_HEADER, srcOff, src)
	payloadEq(&e, unix.NFT_PAYLOAD_NETWORK_HEADER, dstOff, dst)
	if p.SrcPort != 0 {
		payloadEq(&e, unix.NFT_PAYLOAD_TRANSPORT_HEADER, 0, binary.BigEndian.AppendUint16(nil, p.SrcPort))
	}
	if p.DstPort != 0 {
		payloadEq(&e, unix.NFT_PAYLOAD_TRANSPORT_HEADER, 2, binary.BigEndian.AppendUint16(nil, p.DstPort))
	}
	if p.HasID {
		payloadEq(&e, unix.NFT_PAYLOAD_TRANSPORT_HEADER, 4, binary.BigEndian.AppendUint16(nil, p.ICMPID))
	}
	immediate(&e, []byte{1})
	metaSet(&e, unix.NFT_META_NFTRACE)
	end()
	return message{Type: nftMsg(unix.NFT_MSG_NEWRULE), Flags: unix.NLM_F_CREATE | unix.NLM_F_APPEND, Family: uint8(t.Family), Attrs: e.b}
}

// expr opens one expression of the named kind; the caller writes its data.
func expr(e *encoder, name string, data func()) {
	endElem := e.nest(unix.NFTA_LIST_ELEM)
	e.str(unix.NFTA_EXPR_NAME, name)
	endData := e.nest(unix.NFTA_EXPR_DATA)
	data()
	endData()
	endElem()
}

func metaLoad(e *encoder, key uint32) {
	expr(e, "meta", func() {
		e.be32(unix.NFTA_META_KEY, key)
		e.be32(unix.NFTA_META_DREG, reg1)
	})
}

func metaSet(e *encoder, key uint32) {
	expr(e, "meta", func() {
		e.be32(unix.NFTA_META_KEY, key)
		e.be32(unix.NFTA_META_SREG, reg1)
	})
}

func cmpEq(e *encoder, v []byte) {
	expr(e, "cmp", func() {
		e.be32(unix.NFTA_CMP_SREG, reg1)
		e.be32(unix.NFTA_CMP_OP, unix.NFT_CMP_EQ)
		end := e.nest(unix.NFTA_CMP_DATA)
		e.put(unix.NFTA_DATA_VALUE, v)
		end()
	})
}

func payloadEq(e *encoder, base, off uint32, v []byte) {
	expr(e, "payload", func() {
		e.be32(unix.NFTA_PAYLOAD_DREG, reg1)
		e.be32(unix.NFTA_PAYLOAD_BASE, base)
		e.be32(unix.NFTA_PAYLOAD_OFFSET, off)
		e.be32(unix.NFTA_PAYLOAD_LEN, uint32(len(v)))
	})
	cmpEq(e, v)
}

func immediate(e *encoder, v []byte) {
	expr(e, "immediate", func() {
		e.be32(unix.NFTA_IMMEDIATE_DREG, reg1)
		end := e.nest(unix.NFTA_IMMEDIATE_DATA)
		e.put(unix.NFTA_DATA_VALUE, v)
		end()
	})
}

func delTableMsg(t Table) message {
	var e encoder
	e.str(unix.NFTA_TABLE_NAME, t.Name)
	return message{Type: nftMsg(unix.NFT_MSG_DELTABLE), Family: uint8(t.Family), Attrs: e.b}
}
