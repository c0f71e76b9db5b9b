package netfilter

import (
	"fmt"
	"net/netip"
	"strings"
)

// Tuple is one direction of a conntrack entry.
type Tuple struct {
	Src      netip.Addr `json:"src"`
	Dst      netip.Addr `json:"dst"`
	Proto    uint8      `json:"proto"`
	SrcPort  uint16     `json:"sport,omitempty"` // TCP, UDP
	DstPort  uint16     `json:"dport,omitempty"`
	ICMPID   uint16     `json:"icmp_id,omitempty"` // ICMP echo
	ICMPType uint8      `json:"icmp_type,omitempty"`
	ICMPCode uint8      `json:"icmp_code,omitempty"`
}

func (t Tuple) String() string {
	switch t.Proto {
	case ProtoTCP, ProtoUDP:
		return fmt.Sprintf("%s %s -> %s", protoName(t.Proto), netip.AddrPortFrom(t.Src, t.SrcPort), netip.AddrPortFrom(t.Dst, t.DstPort))
	case ProtoICMP, ProtoICMPv6:
		return fmt.Sprintf("%s %s -> %s id %d", protoName(t.Proto), t.Src, t.Dst, t.ICMPID)
	}
	return fmt.Sprintf("%s %s -> %s", protoName(t.Proto), t.Src, t.Dst)
}

// Status is a conntrack entry's status bits (IPS_*).
type Status uint32

const (
	StatusExpected   Status = 1 << 0
	StatusSeenReply  Status = 1 << 1
	StatusAssured    Status = 1 << 2
	StatusConfirmed  Status = 1 << 3
	StatusSrcNAT     Status = 1 << 4
	StatusDstNAT     Status = 1 << 5
	StatusSrcNATDone Status = 1 << 7
	StatusDstNATDone Status = 1 << 8
	StatusDying      Status = 1 << 9
	StatusUntracked  Status = 1 << 12
)

var statusNames = []struct {
	s    Status
	name string
}{
	{StatusExpected, "EXPECTED"}, {StatusSeenReply, "SEEN_REPLY"}, {StatusAssured, "ASSURED"},
	{StatusConfirmed, "CONFIRMED"}, {StatusSrcNAT, "SRC_NAT"}, {StatusDstNAT, "DST_NAT"},
	{StatusSrcNATDone, "SRC_NAT_DONE"}, {StatusDstNATDone, "DST_NAT_DONE"}, {StatusDying, "DYING"},
	{StatusUntracked, "UNTRACKED"},
}

// String lists the set bits as conntrack -L's flags do.
func (s Status) String() string {
	var out []string
	for _, n := range statusNames {
		if s&n.s != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ",")
}

// Conntrack is one conntrack entry.
type Conntrack struct {
	Original Tuple  `json:"original"`
	Reply    Tuple  `json:"reply"`
	Status   Status `json:"status"`
	Mark     uint32 `json:"mark,omitempty"`
	Zone     uint16 `json:"zone,omitempty"`
	ID       uint32 `json:"id,omitempty"`
	TCPState string `json:"tcp_state,omitempty"` // as conntrack -L writes it
	// Destroyed: a conntrack event said the kernel deleted the entry.
	Destroyed bool `json:"destroyed,omitempty"`
}

// TranslationKind says what a NAT changed.
type TranslationKind uint8

const (
	NoTranslation TranslationKind = iota
	// DNAT: the destination was rewritten (DNAT, a published port).
	DNAT
	// Redirect: a DNAT to an address of the translating namespace itself
	// (REDIRECT, TPROXY-like interception).
	Redirect
	// SNAT: the source was rewritten (SNAT or masquerade: conntrack does not
	// tell them apart).
	SNAT
)

func (k TranslationKind) String() string {
	return [...]string{"none", "dnat", "redirect", "snat"}[k]
}

// Translation is one rewrite of a flow.
type Translation struct {
	Kind     TranslationKind
	From, To netip.AddrPort // destination (DNAT, Redirect) or source (SNAT), before and after
}

func (t Translation) String() string { return fmt.Sprintf("%s %s to %s", t.Kind, t.From, t.To) }

// Translations says how the entry's flow was rewritten: none when the reply
// tuple mirrors the original one; a destination rewrite and a source rewrite
// may both be there. local says whether an address belongs to the
// translating namespace (a DNAT there is a Redirect); it may be nil.
func (c Conntrack) Translations(local func(netip.Addr) bool) []Translation {
	o, r := c.Original, c.Reply
	var out []Translation
	// The reply comes from where the original really went.
	if r.Src != o.Dst || r.SrcPort != o.DstPort {
		k := DNAT
		if local != nil && local(r.Src) {
			k = Redirect
		}
		out = append(out, Translation{Kind: k, From: netip.AddrPortFrom(o.Dst, o.DstPort), To: netip.AddrPortFrom(r.Src, r.SrcPort)})
	}
	// The reply goes back to what the original's source became.
	if r.Dst != o.Src || r.DstPort != o.SrcPort {
		out = append(out, Translation{Kind: SNAT, From: netip.AddrPortFrom(o.Src, o.SrcPort), To: netip.AddrPortFrom(r.Dst, r.DstPort)})
	}
	return out
}

// Matches says whether the entry tracks p's flow (seen from p's source: its
// original tuple, before any translation).
func (c Conntrack) Matches(p Probe) bool {
	o := c.Original
	if o.Proto != p.Proto || o.Src != p.Src.Unmap() || o.Dst != p.Dst.Unmap() {
		return false
	}
	if p.SrcPort != 0 && o.SrcPort != p.SrcPort || p.DstPort != 0 && o.DstPort != p.DstPort {
		return false
	}
	return !p.HasID || o.ICMPID == p.ICMPID
}
