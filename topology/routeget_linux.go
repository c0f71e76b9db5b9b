package topology

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// RouteQuery is what `ip route get DST [from SRC] [iif IFACE]` asks.
type RouteQuery struct {
	Dst  netip.Addr
	From netip.Addr // optional
	Iif  string     // optional
}

// RouteResult is the kernel's answer to a route lookup. Line is the first
// line `ip route get` prints for it.
type RouteResult struct {
	Namespace string   `json:"namespace"`
	Type      string   `json:"type"`
	Dst       string   `json:"dst"`
	From      string   `json:"from,omitempty"`
	Gateway   string   `json:"gateway,omitempty"`
	Dev       string   `json:"dev,omitempty"`
	Table     string   `json:"table"`
	Src       string   `json:"prefsrc,omitempty"`
	UID       *int     `json:"uid,omitempty"`
	Metric    *uint32  `json:"metric,omitempty"`
	Pref      string   `json:"pref,omitempty"` // IPv6 router preference: low, medium, high
	Proto     string   `json:"protocol,omitempty"`
	Family    int      `json:"family"` // 4 or 6
	Iif       string   `json:"iif,omitempty"`
	Flags     []string `json:"flags,omitempty"`
	Line      string   `json:"line"`
}

// RouteError is a lookup the kernel refused; its text is iproute2's.
type RouteError struct {
	Namespace string
	Errno     syscall.Errno
}

func (e *RouteError) Error() string {
	return "RTNETLINK answers: " + strerror(e.Errno)
}

func (e *RouteError) Unwrap() error { return e.Errno }

// strerror gives glibc's wording, which Go's errno strings lowercase.
func strerror(e syscall.Errno) string {
	s := e.Error()
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// RouteGet asks the kernel of namespace ns for the route to q.Dst, as
// `ip -n NS route get` does, and formats the answer the same way.
func (ts *Targets) RouteGet(ns string, q RouteQuery) (*RouteResult, error) {
	if err := ValidateTarget(ns); err != nil {
		return nil, err
	}
	if q.Iif != "" {
		if err := ValidateInterface(q.Iif); err != nil {
			return nil, err
		}
	}
	if !q.Dst.IsValid() {
		return nil, errors.New("route lookup needs a destination")
	}
	if q.From.IsValid() && q.From.Is4() != q.Dst.Is4() {
		return nil, fmt.Errorf("source %s and destination %s are not of one family", q.From, q.Dst)
	}
	h, err := ts.openHandle(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	iif := 0
	if q.Iif != "" {
		l, err := h.linkByName(q.Iif)
		if err != nil {
			return nil, err
		}
		if l == nil {
			return nil, fmt.Errorf("cannot find device %q in namespace %q", q.Iif, ns)
		}
		iif = l.Attrs().Index
	}
	msg, err := h.routeGetRaw(q, iif)
	if err != nil {
		return nil, err
	}
	res, err := parseRouteReply(msg, h.linkName)
	if err != nil {
		return nil, err
	}
	res.Namespace = ns
	res.Line = res.format()
	return res, nil
}

// routeGetRaw sends RTM_GETROUTE on a socket made inside the namespace and
// returns the reply's payload (rtmsg and attributes). netlink's RouteGet
// drops RTA_UID and RTA_SRC, which `ip route get` prints.
func (h *nsHandle) routeGetRaw(q RouteQuery, iif int) ([]byte, error) {
	var fd int
	err := Do(h.ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink socket in namespace %q: %w", h.name, err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 5}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Sendto(fd, routeGetRequest(q, iif), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("route lookup in %q: %w", h.name, err)
	}
	buf := make([]byte, 1<<16)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return nil, fmt.Errorf("route lookup in %q: %w", h.name, err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("route lookup in %q: malformed reply", h.name)
	}
	m := msgs[0]
	switch m.Header.Type {
	case unix.NLMSG_ERROR:
		if len(m.Data) < 4 {
			return nil, fmt.Errorf("route lookup in %q: short error", h.name)
		}
		errno := -int32(binary.NativeEndian.Uint32(m.Data))
		return nil, &RouteError{Namespace: h.name, Errno: syscall.Errno(errno)}
	case unix.RTM_NEWROUTE:
		return m.Data, nil
	}
	return nil, fmt.Errorf("route lookup in %q: unexpected reply type %d", h.name, m.Header.Type)
}

func routeGetRequest(q RouteQuery, iif int) []byte {
	family, bits := byte(unix.AF_INET), byte(32)
	if q.Dst.Is6() {
		family, bits = unix.AF_INET6, 128
	}
	rtm := []byte{family, bits, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b := append(make([]byte, unix.SizeofNlMsghdr), rtm...)
	b = appendAttr(b, unix.RTA_DST, q.Dst.AsSlice())
	if q.From.IsValid() {
		b[unix.SizeofNlMsghdr+2] = bits
		b = appendAttr(b, unix.RTA_SRC, q.From.AsSlice())
	}
	if iif > 0 {
		b = appendAttr(b, unix.RTA_IIF, binary.NativeEndian.AppendUint32(nil, uint32(iif)))
	}
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], unix.RTM_GETROUTE)
	binary.NativeEndian.PutUint16(b[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(b[8:], 1)
	return b
}

func appendAttr(b []byte, typ uint16, data []byte) []byte {
	l := unix.SizeofRtAttr + len(data)
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// rawRoute holds what print_route in iproute2 reads from an RTM_NEWROUTE.
type rawRoute struct {
	family, dstLen, srcLen, tos, table, proto, scope, typ byte
	flags                                                 uint32
	attrs                                                 map[uint16][]byte
}

func parseRouteReply(b []byte, linkName func(uint32) string) (*RouteResult, error) {
	if len(b) < unix.SizeofRtMsg {
		return nil, errors.New("route lookup: short reply")
	}
	r := rawRoute{family: b[0], dstLen: b[1], srcLen: b[2], tos: b[3], table: b[4], proto: b[5], scope: b[6], typ: b[7],
		flags: binary.NativeEndian.Uint32(b[8:12]), attrs: map[uint16][]byte{}}
	for a := b[unix.SizeofRtMsg:]; len(a) >= unix.SizeofRtAttr; {
		l := int(binary.NativeEndian.Uint16(a))
		if l < unix.SizeofRtAttr || l > len(a) {
			return nil, errors.New("route lookup: malformed attribute in reply")
		}
		r.attrs[binary.NativeEndian.Uint16(a[2:])] = a[unix.SizeofRtAttr:l]
		a = a[min((l+3)&^3, len(a)):]
	}
	return r.result(linkName), nil
}

func (r rawRoute) addr(t uint16) string {
	v, ok := r.attrs[t]
	if !ok {
		return ""
	}
	a, ok := netip.AddrFromSlice(v)
	if !ok {
		return ""
	}
	return a.String()
}

func (r rawRoute) u32(t uint16) (uint32, bool) {
	v, ok := r.attrs[t]
	if !ok || len(v) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(v), true
}

func (r rawRoute) result(linkName func(uint32) string) *RouteResult {
	hostLen := byte(32)
	if r.family == unix.AF_INET6 {
		hostLen = 128
	}
	res := &RouteResult{Type: routeTypeName(r.typ), Gateway: r.addr(unix.RTA_GATEWAY), Src: r.addr(unix.RTA_PREFSRC)}
	res.Dst = prefixText(r.addr(unix.RTA_DST), r.dstLen, hostLen, "default")
	if s := r.addr(unix.RTA_SRC); s != "" || r.srcLen != 0 {
		res.From = prefixText(s, r.srcLen, hostLen, "")
	}
	table := uint32(r.table)
	if t, ok := r.u32(unix.RTA_TABLE); ok {
		table = t
	}
	res.Table = tableName(table)
	res.Family = 4
	if r.family == unix.AF_INET6 {
		res.Family = 6
	}
	if r.proto != unix.RTPROT_UNSPEC && r.proto != unix.RTPROT_BOOT {
		res.Proto = protoName(r.proto)
	}
	if m, ok := r.u32(unix.RTA_PRIORITY); ok {
		res.Metric = &m
	}
	if v, ok := r.attrs[unix.RTA_PREF]; ok && len(v) == 1 {
		res.Pref = routerPref(v[0])
	}
	if uid, ok := r.u32(unix.RTA_UID); ok {
		u := int(uid)
		res.UID = &u
	}
	for bit, name := range map[uint32]string{unix.RTNH_F_DEAD: "dead", unix.RTNH_F_ONLINK: "onlink", unix.RTNH_F_LINKDOWN: "linkdown"} {
		if r.flags&bit != 0 {
			res.Flags = append(res.Flags, name)
		}
	}
	oif, _ := r.u32(unix.RTA_OIF)
	iif, _ := r.u32(unix.RTA_IIF)
	res.Dev, res.Iif = linkName(oif), linkName(iif)
	return res
}

func prefixText(addr string, bits, hostLen byte, empty string) string {
	switch {
	case addr == "" && bits == 0:
		return empty
	case addr == "":
		return fmt.Sprintf("0/%d", bits)
	case bits != hostLen:
		return fmt.Sprintf("%s/%d", addr, bits)
	}
	return addr
}

// linkName resolves an interface index inside the namespace, as
// ll_index_to_name does; 0 is no interface.
func (h *nsHandle) linkName(i uint32) string {
	if i == 0 {
		return ""
	}
	if l, err := h.nl.LinkByIndex(int(i)); err == nil {
		return l.Attrs().Name
	}
	return fmt.Sprintf("if%d", i)
}

// format follows print_route in iproute2's ip/iproute.c up to the line break
// before "cache".
func (res *RouteResult) format() string {
	var f []string
	if res.Type != "unicast" {
		f = append(f, res.Type)
	}
	f = append(f, res.Dst)
	if res.From != "" {
		f = append(f, "from", res.From)
	}
	if res.Gateway != "" {
		f = append(f, "via", res.Gateway)
	}
	if res.Dev != "" {
		f = append(f, "dev", res.Dev)
	}
	// IPv4 lookups answer table main whatever matched; IPv6 ones name the
	// table, local included, and iproute2 prints every one but main.
	if res.Table != "main" {
		f = append(f, "table", res.Table)
	}
	if res.Proto != "" {
		f = append(f, "proto", res.Proto)
	}
	if res.Src != "" {
		f = append(f, "src", res.Src)
	}
	if res.Metric != nil {
		f = append(f, "metric", fmt.Sprint(*res.Metric))
	}
	f = append(f, res.Flags...)
	if res.UID != nil {
		f = append(f, "uid", fmt.Sprint(*res.UID))
	}
	if res.Family == 6 && res.Iif != "" {
		// IPv4 prints iif on the "cache" line, IPv6 on the first.
		f = append(f, "iif", res.Iif)
	}
	if res.Pref != "" {
		f = append(f, "pref", res.Pref)
	}
	return strings.Join(f, " ")
}

func routeTypeName(t byte) string {
	names := map[byte]string{
		unix.RTN_UNSPEC: "none", unix.RTN_UNICAST: "unicast", unix.RTN_LOCAL: "local",
		unix.RTN_BROADCAST: "broadcast", unix.RTN_ANYCAST: "anycast", unix.RTN_MULTICAST: "multicast",
		unix.RTN_BLACKHOLE: "blackhole", unix.RTN_UNREACHABLE: "unreachable", unix.RTN_PROHIBIT: "prohibit",
		unix.RTN_THROW: "throw", unix.RTN_NAT: "nat", unix.RTN_XRESOLVE: "xresolve",
	}
	if n, ok := names[t]; ok {
		return n
	}
	return fmt.Sprint(t)
}

func tableName(t uint32) string {
	switch t {
	case unix.RT_TABLE_MAIN:
		return "main"
	case unix.RT_TABLE_LOCAL:
		return "local"
	case unix.RT_TABLE_DEFAULT:
		return "default"
	}
	return fmt.Sprint(t)
}

// routerPref names an RFC 4191 preference as iproute2's rtnl_rtpref_n2a.
func routerPref(p byte) string {
	switch p {
	case 0: // ICMPV6_ROUTER_PREF_MEDIUM
		return "medium"
	case 1:
		return "high"
	case 3:
		return "low"
	}
	return fmt.Sprint(p)
}

// protoName names a route's protocol as iproute2's rt_protos table.
func protoName(p byte) string {
	names := map[byte]string{
		unix.RTPROT_REDIRECT: "redirect", unix.RTPROT_KERNEL: "kernel", unix.RTPROT_STATIC: "static",
		unix.RTPROT_GATED: "gated", unix.RTPROT_RA: "ra", unix.RTPROT_MRT: "mrt", unix.RTPROT_ZEBRA: "zebra",
		unix.RTPROT_BIRD: "bird", unix.RTPROT_DNROUTED: "dnrouted", unix.RTPROT_XORP: "xorp",
		unix.RTPROT_NTK: "ntk", unix.RTPROT_DHCP: "dhcp", unix.RTPROT_KEEPALIVED: "keepalived",
		unix.RTPROT_BABEL: "babel", unix.RTPROT_OPENR: "openr", unix.RTPROT_BGP: "bgp",
		unix.RTPROT_ISIS: "isis", unix.RTPROT_OSPF: "ospf", unix.RTPROT_RIP: "rip", unix.RTPROT_EIGRP: "eigrp",
	}
	if n, ok := names[p]; ok {
		return n
	}
	return fmt.Sprint(p)
}

// RouteGet is ts.RouteGet of a nil Targets: by name, nothing held.
func RouteGet(ns string, q RouteQuery) (*RouteResult, error) {
	return (*Targets)(nil).RouteGet(ns, q)
}
