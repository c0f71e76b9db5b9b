package capture

import (
	"strconv"
	"strings"
)

// The lexer follows libpcap's scanner.l: at each point the longest match
// wins, and of equally long matches the rule listed first (keywords, then
// MAC addresses, numbers, dotted IPv4 addresses, IPv6 addresses, named
// constants, then plain words).

type tokKind uint8

const (
	tkEOF  tokKind = iota
	tkOp           // ( ) [ ] : + - * / % & | ^ ! < > = and the two-character operators
	tkKw           // a keyword: and, or, not, host, tcp...
	tkNum          // a number or a named constant (tcp-syn)
	tkHID          // a dotted IPv4 address with 2 to 4 parts
	tkHID6         // an IPv6 address
	tkEID          // a MAC address
	tkAID          // an ARCnet address ($N)
	tkID           // any other word
)

type token struct {
	kind tokKind
	text string // keywords and operators in their canonical form
	num  uint32
}

// maxExprLen bounds the text of an expression.
const maxExprLen = 1 << 20

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// numLen matches {N}: 0x followed by hex digits, or decimal digits.
func numLen(s string) int {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isHex(s[2]) {
		n := 3
		for n < len(s) && isHex(s[n]) {
			n++
		}
		return n
	}
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return n
}

// hidLen matches {N}.{N}, {N}.{N}.{N} or {N}.{N}.{N}.{N}, the longest.
func hidLen(s string) int {
	n := numLen(s)
	if n == 0 {
		return 0
	}
	best := 0
	for parts := 1; parts < 4 && n < len(s) && s[n] == '.'; parts++ {
		m := numLen(s[n+1:])
		if m == 0 {
			break
		}
		n += 1 + m
		best = n
	}
	return best
}

// hexRun counts hex digits at the start of s, at most max.
func hexRun(s string, max int) int {
	n := 0
	for n < len(s) && n < max && isHex(s[n]) {
		n++
	}
	return n
}

// macLen matches scanner.l's MAC forms.
func macLen(s string) int {
	best := 0
	for _, sep := range []byte{':', '-', '.'} {
		n, groups := 0, 0
		for groups < 6 {
			m := hexRun(s[n:], 2)
			if m == 0 {
				break
			}
			n += m
			groups++
			if groups < 6 {
				if n >= len(s) || s[n] != sep {
					break
				}
				n++
			}
		}
		if groups == 6 {
			best = max(best, n)
		}
	}
	if n := 14; len(s) >= n && hexRun(s, 4) == 4 && s[4] == '.' && hexRun(s[5:], 4) == 4 && s[9] == '.' && hexRun(s[10:], 4) == 4 {
		best = max(best, n)
	}
	if hexRun(s, 12) == 12 {
		best = max(best, 12)
	}
	return best
}

// badEtherLen matches {B}:+({B}:+)+, which scanner.l reports as a bogus
// ethernet address.
func badEtherLen(s string) int {
	n, groups := 0, 0
	for {
		m := hexRun(s[n:], 2)
		if m == 0 || n+m >= len(s) || s[n+m] != ':' {
			break
		}
		n += m
		for n < len(s) && s[n] == ':' {
			n++
		}
		groups++
	}
	if groups < 2 {
		return 0
	}
	return n
}

// idLen matches [A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?.
func idLen(s string) int {
	if len(s) == 0 || !isAlnum(s[0]) {
		return 0
	}
	n, last := 1, 1
	for n < len(s) && (isAlnum(s[n]) || s[n] == '-' || s[n] == '_' || s[n] == '.') {
		n++
		if c := s[n-1]; c != '-' && c != '_' {
			last = n
		}
	}
	return last
}

// keywords maps libpcap's reserved words to canonical names. Words nsdump
// parses are listed with themselves; the others map to "" and are refused
// by name, as libpcap would take them.
var keywords = map[string]string{
	"dst": "dst", "src": "src", "host": "host", "gateway": "gateway", "net": "net", "mask": "mask",
	"port": "port", "portrange": "portrange", "less": "less", "greater": "greater", "proto": "proto",
	"protochain": "", "byte": "", "link": "ether", "ether": "ether", "ppp": "ether", "slip": "ether",
	"fddi": "ether", "tr": "ether", "wlan": "ether", "arp": "arp", "rarp": "rarp", "ip": "ip",
	"sctp": "sctp", "tcp": "tcp", "udp": "udp", "icmp": "icmp", "igmp": "igmp", "igrp": "", "pim": "",
	"vrrp": "", "carp": "", "radio": "", "ip6": "ip6", "icmp6": "icmp6", "ah": "", "esp": "",
	"atalk": "", "aarp": "", "decnet": "", "lat": "", "sca": "", "moprc": "", "mopdl": "",
	"iso": "", "esis": "", "es-is": "", "isis": "", "is-is": "", "l1": "", "l2": "", "iih": "",
	"lsp": "", "snp": "", "csnp": "", "psnp": "", "clnp": "", "stp": "", "ipx": "", "netbeui": "",
	"vlan": "vlan", "mpls": "mpls", "pppoed": "", "pppoes": "pppoes", "geneve": "", "vxlan": "",
	"lane": "", "llc": "", "metac": "", "bcc": "", "oam": "", "oamf4": "", "oamf4ec": "",
	"oamf4sc": "", "sc": "", "ilmic": "", "vpi": "", "vci": "", "connectmsg": "", "metaconnect": "",
	"on": "", "ifname": "", "rset": "", "ruleset": "", "rnr": "", "rulenum": "", "srnr": "",
	"subrulenum": "", "reason": "", "action": "", "fisu": "", "lssu": "", "lsu": "", "msu": "",
	"hfisu": "", "hlssu": "", "hmsu": "", "sio": "", "opc": "", "dpc": "", "sls": "", "hsio": "",
	"hopc": "", "hdpc": "", "hsls": "", "type": "", "subtype": "", "direction": "", "dir": "",
	"address1": "", "addr1": "", "address2": "", "addr2": "", "address3": "", "addr3": "",
	"address4": "", "addr4": "", "ra": "", "ta": "", "inbound": "", "outbound": "", "ifindex": "",
	"broadcast": "broadcast", "multicast": "multicast", "and": "and", "or": "or", "not": "!",
	"len": "len", "length": "len",
}

var namedNumbers = map[string]uint32{
	"icmptype": 0, "icmpcode": 1, "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
	"icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10,
	"icmp-timxceed": 11, "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14,
	"icmp-ireq": 15, "icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6type": 0, "icmp6code": 1, "icmp6-destinationunreach": 1, "icmp6-packettoobig": 2,
	"icmp6-timeexceeded": 3, "icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
	"icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
	"icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139, "icmp6-nodeinformationresponse": 140,
	"icmp6-ineighbordiscoverysolicit": 141, "icmp6-ineighbordiscoveryadvert": 142,
	"icmp6-multicastlistenerreportv2": 143, "icmp6-homeagentdiscoveryrequest": 144,
	"icmp6-homeagentdiscoveryreply": 145, "icmp6-mobileprefixsolicit": 146,
	"icmp6-mobileprefixadvert": 147, "icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
	"icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
	"icmp6-multicastrouterterm": 153, "tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02,
	"tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}

// lex splits an expression into libpcap's tokens.
func lex(s string) ([]token, error) {
	if len(s) > maxExprLen {
		return nil, filterErr("expression longer than %d bytes", maxExprLen)
	}
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		if i+1 < len(s) {
			switch two := s[i : i+2]; two {
			case ">=", "<=", "!=", "<<", ">>":
				toks = append(toks, token{kind: tkOp, text: two})
				i += 2
				continue
			case "==":
				toks = append(toks, token{kind: tkOp, text: "="})
				i += 2
				continue
			case "&&":
				toks = append(toks, token{kind: tkKw, text: "and"})
				i += 2
				continue
			case "||":
				toks = append(toks, token{kind: tkKw, text: "or"})
				i += 2
				continue
			}
		}
		if c == '\\' {
			j := i + 1
			for j < len(s) && !strings.ContainsRune(" !()\n\t", rune(s[j])) {
				j++
			}
			if j == i+1 {
				return nil, filterErr("unexpected character '\\'")
			}
			toks = append(toks, token{kind: tkID, text: s[i+1 : j]})
			i = j
			continue
		}
		if strings.IndexByte("+-*/%:[]!<>()&|^=", c) >= 0 {
			// A colon may begin an IPv6 address ("::1").
			if c != ':' || v6Len(s[i:]) == 0 {
				toks = append(toks, token{kind: tkOp, text: s[i : i+1]})
				i++
				continue
			}
		}
		t, n, err := lexWord(s[i:])
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		i += n
	}
	return toks, nil
}

// lexWord takes the longest token at the start of s.
func lexWord(s string) (token, int, error) {
	best, kind := 0, tkEOF
	try := func(n int, k tokKind) {
		if n > best {
			best, kind = n, k
		}
	}
	// Rules in scanner.l's order; a later rule wins only when longer.
	id := s[:idLen(s)]
	if _, ok := keywords[strings.ToLower(id)]; ok && id != "" {
		try(len(id), tkKw)
	}
	if s[0] == '$' {
		if n := hexRun(s[1:], 2); n > 0 {
			try(1+n, tkAID)
		}
	}
	try(macLen(s), tkEID)
	try(numLen(s), tkNum)
	try(hidLen(s), tkHID)
	try(v6Len(s), tkHID6)
	if n := badEtherLen(s); n > best {
		return token{}, 0, filterErr("bogus ethernet address %s", s[:n])
	}
	if id != "" {
		if _, ok := namedNumbers[id]; ok {
			try(len(id), tkNum)
		}
		try(len(id), tkID)
	}
	if best == 0 {
		return token{}, 0, filterErr("unexpected character %q", s[0])
	}
	text := s[:best]
	t := token{kind: kind, text: text}
	switch kind {
	case tkKw:
		t.text = keywords[strings.ToLower(text)]
		if t.text == "" {
			t.text = "?" + text // known to libpcap, not to nsdump
		}
	case tkNum:
		if v, ok := namedNumbers[text]; ok {
			t.num = v
			break
		}
		v, err := parseNum(text)
		if err != nil {
			return token{}, 0, err
		}
		t.num = v
	}
	return t, best, nil
}

// parseNum reads a number as libpcap's stou does: 0x hex, 0 octal, else
// decimal, refusing what does not fit 32 bits.
func parseNum(s string) (uint32, error) {
	base, digits := 10, s
	switch {
	case len(s) > 2 && (s[1] == 'x' || s[1] == 'X'):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		if base == 8 {
			return 0, filterErr("number %s contains non-octal digit", s)
		}
		return 0, filterErr("number %s overflows 32 bits", s)
	}
	return uint32(v), nil
}

// v6Len is the length of the longest IPv6 literal, in one of scanner.l's
// forms, at the start of s; 0 if there is none.
func v6Len(s string) int {
	m := 0
	for m < len(s) && (isHex(s[m]) || s[m] == ':' || s[m] == '.') {
		m++
	}
	if strings.IndexByte(s[:m], ':') < 0 {
		return 0
	}
	for n := m; n >= 2; n-- {
		if isV6Form(s[:n]) {
			return n
		}
	}
	return 0
}

// isV6Form checks one of scanner.l's IPv6 forms: eight groups of 1-4 hex
// digits, or fewer around one "::", the last two groups possibly written
// as a dotted IPv4 address (whose parts may be any number).
func isV6Form(s string) bool {
	if strings.Count(s, "::") > 1 || strings.Contains(s, ":::") {
		return false
	}
	groups, tail := s, ""
	if k := strings.LastIndexByte(s, ':'); strings.Contains(s[k+1:], ".") {
		groups, tail = s[:k+1], s[k+1:]
		if !reHIDFull(tail) {
			return false
		}
		if strings.HasSuffix(groups, "::") {
			groups += "0" // "::1.2.3.4": the groups before the address
		} else {
			groups = strings.TrimSuffix(groups, ":")
		}
	}
	want := 8
	if tail != "" {
		want = 6
	}
	if strings.Contains(groups, "::") {
		l, r, _ := strings.Cut(groups, "::")
		nl, okl := hexGroups(l)
		nr, okr := hexGroups(r)
		if tail != "" && r == "0" {
			nr = 0
		}
		return okl && okr && nl+nr <= want-1
	}
	n, ok := hexGroups(groups)
	return ok && n == want
}

func reHIDFull(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || numLen(p) != len(p) {
			return false
		}
	}
	return true
}

// hexGroups counts colon-separated groups of 1-4 hex digits ("" is none).
func hexGroups(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	parts := strings.Split(s, ":")
	for _, p := range parts {
		if len(p) < 1 || len(p) > 4 {
			return 0, false
		}
		for _, c := range p {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return 0, false
			}
		}
	}
	return len(parts), true
}
