package topology

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteLookup asks the kernel of ns for the route q selects and names the
// policy rule that chose its table. A refusal is an answer (Errno, Error),
// not an error; an error is an *Unreadable.
func RouteLookup(ns Held, q LookupQuery) (*nsstate.Lookup, error) {
	if !q.Dst.IsValid() {
		return nil, errors.New("route lookup needs a destination")
	}
	if q.Src.IsValid() && q.Src.Is4() != q.Dst.Is4() {
		return nil, fmt.Errorf("source %s and destination %s are not of one family", q.Src, q.Dst)
	}
	for _, name := range []string{q.Iif, q.Oif} {
		if name == "" {
			continue
		}
		if err := ValidateInterface(name); err != nil {
			return nil, err
		}
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
	refused := func(table uint32) *nsstate.BlockingRoute { return refusingRoute(nh, table, q.Dst) }
	l.Rule, l.Passed = decidingRule(rules, q, l, refused)
	return l, nil
}

func lookupIn(ns Held, nh *netlink.Handle, q LookupQuery) (*nsstate.Lookup, []fibRule, error) {
	family := netlink.FAMILY_V4
	if q.Dst.Is6() {
		family = netlink.FAMILY_V6
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
	rules, err := ruleDump(fd, byte(family))
	if err != nil {
		return nil, nil, fmt.Errorf("list rules: %w", err)
	}
	l := &nsstate.Lookup{Namespace: ns.Name}
	msgs, err := exchange(fd, unix.RTM_GETROUTE, 0, lookupRequest(q, iif, oif))
	var refusal *kernelRefusal
	switch {
	case errors.As(err, &refusal):
		l.Errno, l.Error = int(refusal.errno), (&RouteError{Errno: refusal.errno}).Error()
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
	l.Route = &nsstate.LookupRoute{Type: r.Type, Gateway: r.Gateway, Dev: r.Dev, Src: r.Src, Line: r.format()}
	l.Table = replyTable(msgs[0])
	return l, rules, nil
}

func ifIndex(nh *netlink.Handle, name string) (int, error) {
	if name == "" {
		return 0, nil
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
	b := []byte{family, bits, 0, q.TOS, 0, 0, 0, 0}
	// Without RTM_F_LOOKUP_TABLE an IPv4 answer says table main whatever
	// table it came from.
	b = binary.NativeEndian.AppendUint32(b, unix.RTM_F_LOOKUP_TABLE)
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
