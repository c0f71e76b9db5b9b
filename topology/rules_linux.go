package topology

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"

	"github.com/nsdump/nsdump/topology/nsstate"
	"golang.org/x/sys/unix"
)

// fibRule is one policy rule as the kernel dumps it (struct fib_rule_hdr
// and FRA_* attributes); netlink's RuleList drops the action.
type fibRule struct {
	priority     int
	action       uint8
	table        uint32
	gotoPrio     int
	invert       bool
	src, dst     netip.Prefix
	tos          uint8
	mark, mask   uint32
	iif, oif     string
	uid          *[2]uint32
	ipproto      int
	sport, dport *[2]uint16
	suppress     int // suppress_prefixlength; -1 when not set
}

// ruleDump lists the policy rules of family (AF_INET or AF_INET6).
func ruleDump(fd int, family byte) ([]fibRule, error) {
	msgs, err := exchange(fd, unix.RTM_GETRULE, unix.NLM_F_DUMP, []byte{family, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	if err != nil {
		return nil, err
	}
	var out []fibRule
	for _, m := range msgs {
		if len(m) >= 12 {
			out = append(out, parseRule(m))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].priority < out[j].priority })
	return out, nil
}

func parseRule(m []byte) fibRule {
	a := attrs(m[12:])
	r := fibRule{action: m[7], table: uint32(m[4]), tos: m[3], invert: binary.NativeEndian.Uint32(m[8:])&unix.FIB_RULE_INVERT != 0}
	u32 := func(t uint16) uint32 { v, _ := attrU32(a, t); return v }
	r.priority, r.mark, r.mask, r.gotoPrio = int(u32(unix.FRA_PRIORITY)), u32(unix.FRA_FWMARK), u32(unix.FRA_FWMASK), int(u32(unix.FRA_GOTO))
	if t, ok := attrU32(a, unix.FRA_TABLE); ok {
		r.table = t
	}
	r.src, r.dst = rulePrefix(a[unix.FRA_SRC], m[2]), rulePrefix(a[unix.FRA_DST], m[1])
	r.iif, r.oif = attrString(a, unix.FRA_IIFNAME), attrString(a, unix.FRA_OIFNAME)
	if v := a[unix.FRA_UID_RANGE]; len(v) >= 8 {
		r.uid = &[2]uint32{binary.NativeEndian.Uint32(v), binary.NativeEndian.Uint32(v[4:])}
	}
	if v, ok := attrU8(a, unix.FRA_IP_PROTO); ok {
		r.ipproto = int(v)
	}
	r.sport, r.dport = portRange(a[unix.FRA_SPORT_RANGE]), portRange(a[unix.FRA_DPORT_RANGE])
	r.suppress = -1
	if v, ok := attrU32(a, unix.FRA_SUPPRESS_PREFIXLEN); ok && v != ^uint32(0) {
		r.suppress = int(v)
	}
	return r
}

func rulePrefix(v []byte, bits byte) netip.Prefix {
	a, ok := netip.AddrFromSlice(v)
	if !ok {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a, int(bits))
}

func portRange(v []byte) *[2]uint16 {
	if len(v) < 4 {
		return nil
	}
	return &[2]uint16{binary.NativeEndian.Uint16(v), binary.NativeEndian.Uint16(v[2:])}
}

// decidingRule walks the rules as fib_rules_lookup does: by priority, the
// matching ones only, following goto. A suppressing rule (wg-quick's
// "lookup main suppress_prefixlength 0") is passed unless its table gave
// the answer, which the kernel returns only when not suppressed. A table rule decides when its table
// is the answer's, or, when the kernel refused, when its table's best
// route for the destination refuses (refused names it); a refusing rule
// decides when the kernel refused.
func decidingRule(rules []fibRule, q LookupQuery, l *nsstate.Lookup, refused func(table uint32) *nsstate.BlockingRoute) (*nsstate.PolicyRule, []nsstate.PolicyRule) {
	var passed []nsstate.PolicyRule
	jump := -1
	for _, r := range rules {
		if r.priority < jump || !r.matches(q) {
			continue
		}
		pr := r.policyRule()
		switch r.action {
		case unix.FR_ACT_TO_TBL:
			if l.Route != nil && r.table == l.Table {
				return &pr, passed
			}
			if l.Route == nil {
				if l.Refusal = refused(r.table); l.Refusal != nil {
					return &pr, passed
				}
			}
			passed = append(passed, pr)
		case unix.FR_ACT_GOTO:
			jump = r.gotoPrio
		case unix.FR_ACT_BLACKHOLE, unix.FR_ACT_UNREACHABLE, unix.FR_ACT_PROHIBIT:
			if l.Route == nil {
				return &pr, passed
			}
		}
	}
	return nil, passed
}

// matches is fib_rule_match and fib4/6_rule_match for the flow
// inet_rtm_getroute builds: a lookup without iif is sent locally (iif lo,
// the caller's uid 0 unless asked); one with iif has no uid. The flow has no
// protocol or ports, so a rule asking for them does not match.
func (r fibRule) matches(q LookupQuery) bool {
	iif, uid := "lo", uint32(0)
	if q.Iif != "" {
		iif, uid = q.Iif, ^uint32(0)
	}
	if q.UID != nil {
		uid = *q.UID
	}
	src := q.Src
	if !src.IsValid() {
		src = netip.IPv4Unspecified()
		if q.Dst.Is6() {
			src = netip.IPv6Unspecified()
		}
	}
	m := (r.iif == "" || r.iif == iif) &&
		(r.oif == "" || r.oif == q.Oif) &&
		(r.mark^q.Mark)&r.mask == 0 &&
		(r.uid == nil || (uid >= r.uid[0] && uid <= r.uid[1])) &&
		(!r.src.IsValid() || r.src.Contains(src)) &&
		(!r.dst.IsValid() || r.dst.Contains(q.Dst)) &&
		(r.tos == 0 || r.tos == q.TOS&0xfc) &&
		r.ipproto == 0 && r.sport == nil && r.dport == nil
	return m != r.invert
}

func (r fibRule) policyRule() nsstate.PolicyRule {
	var uid *[2]uint32
	if r.uid != nil && !(r.uid[0] == 0 && r.uid[1] == ^uint32(0)) {
		uid = r.uid
	}
	var ports string
	if r.dport != nil {
		ports = fmt.Sprintf("dport %d", r.dport[0])
	}
	pr := nsstate.PolicyRule{Priority: r.priority}
	pr.Selector = ruleSelector(r.invert, r.src, r.dst, r.tos, r.mark, r.mask, r.iif, r.oif, uid, r.ipproto, ports)
	switch r.action {
	case unix.FR_ACT_TO_TBL:
		pr.Table, pr.Action = r.table, "lookup "+nsstate.TableWord(r.table)
		if r.suppress >= 0 {
			pr.Action += fmt.Sprintf(" suppress_prefixlength %d", r.suppress)
		}
	case unix.FR_ACT_GOTO:
		pr.Action = fmt.Sprintf("goto %d", r.gotoPrio)
	default:
		pr.Action = map[uint8]string{unix.FR_ACT_NOP: "nop", unix.FR_ACT_BLACKHOLE: "blackhole",
			unix.FR_ACT_UNREACHABLE: "unreachable", unix.FR_ACT_PROHIBIT: "prohibit"}[r.action]
	}
	return pr
}
