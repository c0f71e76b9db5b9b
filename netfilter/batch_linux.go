package netfilter

import (
	"encoding/binary"
	"slices"

	"golang.org/x/sys/unix"
)

func nftMsg(t int) uint16 { return uint16(unix.NFNL_SUBSYS_NFTABLES<<8 | t) }

// traceBatch is the transaction that creates t with two chains, at the
// earliest prerouting and output hooks, whose rules set nftrace on the
// probes' packets in both directions, and on IPv6 neighbour discovery
// when a probe is IPv6 (ndRuleMsg).
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
		if t.Family == FamilyInet && slices.ContainsFunc(probes, func(p Probe) bool { return !p.Src.Unmap().Is4() }) {
			msgs = append(msgs, ndRuleMsg(t, hook.name))
		}
	}
	return msgs
}

// ndRuleMsg is `meta nfproto ipv6 meta l4proto ipv6-icmp icmpv6 type
// 133-137 meta nftrace set 1`: IPv6's neighbour discovery, which a v6
// probe needs before its first packet leaves (and its answer before it
// comes back). A ruleset that drops it stops the probe without ever
// seeing the probe's own packets; marked, the kernel's trace says which
// rule did. Every ND packet of the namespace is marked while trace runs:
// solicitations go to multicast and link-local addresses no probe names.
func ndRuleMsg(t Table, chain string) message {
	var e encoder
	e.str(unix.NFTA_RULE_TABLE, t.Name)
	e.str(unix.NFTA_RULE_CHAIN, chain)
	end := e.nest(unix.NFTA_RULE_EXPRESSIONS)
	metaLoad(&e, unix.NFT_META_NFPROTO)
	cmpEq(&e, []byte{unix.NFPROTO_IPV6})
	metaLoad(&e, unix.NFT_META_L4PROTO)
	cmpEq(&e, []byte{ProtoICMPv6})
	payloadLoad(&e, unix.NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1)
	cmpOp(&e, unix.NFT_CMP_GTE, []byte{NDFirst})
	cmpOp(&e, unix.NFT_CMP_LTE, []byte{NDLast})
	immediate(&e, []byte{1})
	metaSet(&e, unix.NFT_META_NFTRACE)
	end()
	return message{Type: nftMsg(unix.NFT_MSG_NEWRULE), Flags: unix.NLM_F_CREATE | unix.NLM_F_APPEND, Family: uint8(t.Family), Attrs: e.b}
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

func cmpEq(e *encoder, v []byte) { cmpOp(e, unix.NFT_CMP_EQ, v) }

func cmpOp(e *encoder, op uint32, v []byte) {
	expr(e, "cmp", func() {
		e.be32(unix.NFTA_CMP_SREG, reg1)
		e.be32(unix.NFTA_CMP_OP, op)
		end := e.nest(unix.NFTA_CMP_DATA)
		e.put(unix.NFTA_DATA_VALUE, v)
		end()
	})
}

func payloadEq(e *encoder, base, off uint32, v []byte) {
	payloadLoad(e, base, off, uint32(len(v)))
	cmpEq(e, v)
}

func payloadLoad(e *encoder, base, off, n uint32) {
	expr(e, "payload", func() {
		e.be32(unix.NFTA_PAYLOAD_DREG, reg1)
		e.be32(unix.NFTA_PAYLOAD_BASE, base)
		e.be32(unix.NFTA_PAYLOAD_OFFSET, off)
		e.be32(unix.NFTA_PAYLOAD_LEN, n)
	})
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
