package topology

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteLookup asks the kernel of ns for the route q selects and names the
// policy rule that chose its table. A refusal is an answer (Errno, Error),
// not an error; an error is an *Unreadable.
func RouteLookup(ns Held, q LookupQuery) (*Lookup, error) {
	if !q.Dst.IsValid() {
		return nil, errors.New("route lookup needs a destination")
	}
	if q.Src.IsValid() && q.Src.Is4() != q.Dst.Is4() {
		return nil, fmt.Errorf("source %s and destination %s are not of one family", q.Src, q.Dst)
	}
	nh, err := ns.netlinkHandle()
	if err != nil {
		return nil, ns.unreadable("route lookup", err)
	}
	defer nh.Close()
	l, rules, err := lookupIn(ns, nh, q)
	if err != nil {
		return nil, ns.unreadable("route lookup", err)
	}
	l.Rule, l.Passed = decidingRule(rules, q, l)
	return l, nil
}

func lookupIn(ns Held, nh *netlink.Handle, q LookupQuery) (*Lookup, []netlink.Rule, error) {
	family := netlink.FAMILY_V4
	if q.Dst.Is6() {
		family = netlink.FAMILY_V6
	}
	rules, err := nh.RuleList(family)
	if err != nil {
		return nil, nil, fmt.Errorf("list rules: %w", err)
	}
	iif, err := ifIndex(nh, q.Iif)
	if err != nil {
		return nil, nil, err
	}
	oif, err := ifIndex(nh, q.Oif)
	if err != nil {
		return nil, nil, err
	}
	fd, err := ns.routeSocket()
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(fd)
	l := &Lookup{Namespace: ns.Name}
	msgs, err := exchange(fd, unix.RTM_GETROUTE, 0, lookupRequest(q, iif, oif))
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		l.Errno, l.Error = int(errno), (&RouteError{Errno: errno}).Error()
		return l, rules, nil
	case err != nil:
		return nil, nil, err
	case len(msgs) == 0:
		return nil, nil, errors.New("no answer")
	}
	name := func(i uint32) string { return indexName(nh, i) }
	r, err := parseRouteReply(msgs[0], name)
	if err != nil {
		return nil, nil, err
	}
	l.Route = &LookupRoute{Type: r.Type, Gateway: r.Gateway, Dev: r.Dev, Src: r.Src, Line: r.format()}
	l.Table = replyTable(msgs[0])
	return l, rules, nil
}

func ifIndex(nh *netlink.Handle, name string) (int, error) {
	if name == "" {
		return 0, nil
	}
	if err := ValidateInterface(name); err != nil {
		return 0, err
	}
	link, err := nh.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return link.Attrs().Index, nil
}

func indexName(nh *netlink.Handle, i uint32) string {
	if i == 0 {
		return ""
	}
	if l, err := nh.LinkByIndex(int(i)); err == nil {
		return l.Attrs().Name
	}
	return fmt.Sprintf("if%d", i)
}

func replyTable(b []byte) uint32 {
	if t, ok := attrU32(attrs(b[unix.SizeofRtMsg:]), unix.RTA_TABLE); ok {
		return t
	}
	return uint32(b[4]) // rtm_table
}

// lookupRequest is the rtmsg and attributes of iproute2's `ip route get`
// (ip/iproute.c iproute_get) for q.
func lookupRequest(q LookupQuery, iif, oif int) []byte {
	family, bits := byte(unix.AF_INET), byte(32)
	if q.Dst.Is6() {
		family, bits = unix.AF_INET6, 128
	}
	b := []byte{family, bits, 0, q.TOS, 0, 0, 0, 0, 0, 0, 0, 0}
	b = appendAttr(b, unix.RTA_DST, q.Dst.AsSlice())
	if q.Src.IsValid() {
		b[1+1] = bits
		b = appendAttr(b, unix.RTA_SRC, q.Src.AsSlice())
	}
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	if iif > 0 {
		b = appendAttr(b, unix.RTA_IIF, u32(uint32(iif)))
	}
	if oif > 0 {
		b = appendAttr(b, unix.RTA_OIF, u32(uint32(oif)))
	}
	if q.Mark != 0 {
		b = appendAttr(b, unix.RTA_MARK, u32(q.Mark))
	}
	if q.UID != nil {
		b = appendAttr(b, unix.RTA_UID, u32(*q.UID))
	}
	return b
}

// decidingRule walks the rules as fib_rules_lookup does: by priority, the
// matching ones only, following goto. A table rule decides when its table
// is the answer's; a refusing rule decides when the kernel refused.
func decidingRule(rules []netlink.Rule, q LookupQuery, l *Lookup) (*PolicyRule, []PolicyRule) {
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
	var passed []PolicyRule
	jump := -1
	for _, r := range rules {
		if r.Priority < jump || !ruleMatches(r, q) {
			continue
		}
		pr := policyRule(r)
		switch r.Type {
		case unix.FR_ACT_TO_TBL:
			if l.Route != nil && uint32(r.Table) == l.Table {
				return &pr, passed
			}
			passed = append(passed, pr)
		case unix.FR_ACT_GOTO:
			jump = r.Goto
		case unix.FR_ACT_BLACKHOLE, unix.FR_ACT_UNREACHABLE, unix.FR_ACT_PROHIBIT:
			if l.Route == nil {
				return &pr, passed
			}
		}
	}
	return nil, passed
}

// ruleMatches is fib_rule_match and fib4/6_rule_match for a flow built by
// inet_rtm_getroute: a lookup without iif is locally sent (iif lo, the
// caller's uid 0 unless asked); one with iif has no uid.
func ruleMatches(r netlink.Rule, q LookupQuery) bool {
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
	m := (r.IifName == "" || r.IifName == iif) &&
		(r.OifName == "" || r.OifName == q.Oif) &&
		(r.Mask == nil || (r.Mark^q.Mark)&*r.Mask == 0) &&
		(r.UIDRange == nil || (uid >= r.UIDRange.Start && uid <= r.UIDRange.End)) &&
		(r.Src == nil || r.Src.Contains(src.AsSlice())) &&
		(r.Dst == nil || r.Dst.Contains(q.Dst.AsSlice())) &&
		(r.Tos == 0 || uint8(r.Tos) == q.TOS&0xfc) &&
		r.IPProto == 0 && r.Sport == nil && r.Dport == nil
	return m != r.Invert
}

func policyRule(r netlink.Rule) PolicyRule {
	var src, dst netip.Prefix
	if r.Src != nil {
		src = ipNetPrefix(r.Src)
	}
	if r.Dst != nil {
		dst = ipNetPrefix(r.Dst)
	}
	var mask uint32
	if r.Mask != nil {
		mask = *r.Mask
	}
	var uid *[2]uint32
	if r.UIDRange != nil {
		uid = &[2]uint32{r.UIDRange.Start, r.UIDRange.End}
	}
	var ports string
	if r.Dport != nil {
		ports = fmt.Sprintf("dport %d", r.Dport.Start)
	}
	pr := PolicyRule{Priority: r.Priority}
	pr.Selector = ruleSelector(r.Invert, src, dst, uint8(r.Tos), r.Mark, mask, r.IifName, r.OifName, uid, r.IPProto, ports)
	switch r.Type {
	case unix.FR_ACT_TO_TBL:
		pr.Table, pr.Action = uint32(r.Table), "lookup "+tableWord(uint32(r.Table))
	case unix.FR_ACT_GOTO:
		pr.Action = fmt.Sprintf("goto %d", r.Goto)
	default:
		pr.Action = map[uint8]string{unix.FR_ACT_NOP: "nop", unix.FR_ACT_BLACKHOLE: "blackhole",
			unix.FR_ACT_UNREACHABLE: "unreachable", unix.FR_ACT_PROHIBIT: "prohibit"}[r.Type]
	}
	return pr
}
