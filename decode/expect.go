package decode

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Expectation is one `read --expect` line: a count over the report
// compared with a number, e.g. `icmp-echo:answered>=3`,
// `tcp[dst=10.0.2.0:7096]:refused==1`, `packets>0`, `drops==0`.
type Expectation struct {
	Expr   string `json:"expr"`
	Op     string `json:"op"`
	Want   int    `json:"want"`
	Got    int    `json:"got"`
	OK     bool   `json:"ok"`
	what   string // "packets", "drops" or "exchanges"
	kind   ExchangeKind
	status Status
	sel    []selector
	probe  string // probe=: the trace probe kind, "none", or "" (any)
	stray  *bool  // drops[stray=...]: trace's own drops, or the path's
}

type selector struct {
	dst  bool // else src
	addr netip.Addr
	port uint16 // 0: any
}

// ProbeNone selects the exchanges a trace -w file ties to no probe of
// the trace (ARP, neighbour discovery, other traffic).
const ProbeNone = "none"

// ProbeAny selects those it ties to any probe.
const ProbeAny = "any"

// probeNames are the values of probe=.
var probeNames = []string{string(KindEcho), string(KindEcho6), string(KindTCPConn), string(KindUDPFlow), string(KindDNS), "mtu", ProbeAny, ProbeNone}

// probeKinds are the probes of `nsdump trace` whose packets an exchange
// of each kind can hold (trace's probe kinds, and "mtu": the large
// echoes of the mtu probe): a probe= selector outside them could never
// match.
var probeKinds = map[ExchangeKind][]string{
	KindEcho:      {string(KindEcho), "mtu", ProbeNone},
	KindEcho6:     {string(KindEcho6), "mtu", ProbeNone},
	KindTCPConn:   {string(KindTCPConn), ProbeNone},
	KindUDPFlow:   {string(KindUDPFlow), ProbeNone},
	KindDNS:       {string(KindDNS), ProbeNone},
	KindICMPError: {string(KindEcho), string(KindEcho6), "mtu", string(KindTCPConn), string(KindUDPFlow), string(KindDNS), ProbeNone},
	KindARPRes:    {ProbeNone},
	KindNDP:       {ProbeNone},
}

var expectRE = regexp.MustCompile(`^\s*(.*?)\s*(==|!=|<=|>=|<|>)\s*([0-9]+)\s*$`)

const expectGrammar = "want KIND:STATUS OP N, KIND[src=ADDR[:PORT],dst=...,probe=PROBE]:STATUS OP N, packets OP N, drops OP N or drops[stray=true|false,probe=PROBE] OP N, with OP one of == != < <= > >="

// ParseExpectation parses one expectation; the error names it and says
// what was wanted.
func ParseExpectation(s string) (*Expectation, error) {
	m := expectRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("bad expectation %q: %s", s, expectGrammar)
	}
	e := &Expectation{Expr: strings.TrimSpace(s), Op: m[2]}
	n, err := strconv.Atoi(m[3])
	if err != nil {
		return nil, fmt.Errorf("bad expectation %q: %s is not a count", s, m[3])
	}
	e.Want = n
	if err := e.parseCount(strings.TrimSpace(m[1])); err != nil {
		return nil, fmt.Errorf("bad expectation %q: %w", s, err)
	}
	return e, nil
}

func (e *Expectation) parseCount(c string) error {
	if c == "packets" || c == "drops" {
		e.what = c
		return nil
	}
	if strings.HasPrefix(c, "drops[") {
		return e.parseDrops(c)
	}
	if strings.HasPrefix(c, "packets[") {
		return fmt.Errorf("%q: packets take no selector (select exchanges, or drops[stray=...])", c)
	}
	e.what = "exchanges"
	head, status, ok := strings.Cut(c, ":")
	if i := strings.LastIndex(c, "]"); i >= 0 {
		if !strings.HasPrefix(c[i+1:], ":") {
			return fmt.Errorf("want :STATUS after %q", c[:i+1])
		}
		head, status, ok = c[:i+1], c[i+2:], true
	}
	if !ok {
		return fmt.Errorf("%q names no status; %s", c, expectGrammar)
	}
	kind, sel, hasSel := strings.Cut(head, "[")
	e.kind, e.status = ExchangeKind(strings.TrimSpace(kind)), Status(strings.TrimSpace(status))
	statuses, known := Kinds[e.kind]
	if !known {
		return fmt.Errorf("unknown kind %q (want one of %s, or packets, drops)", e.kind, strings.Join(kindNames(), ", "))
	}
	if !slices.Contains(statuses, e.status) {
		return fmt.Errorf("%s has no status %q (want one of %s)", e.kind, e.status, joinStatuses(statuses))
	}
	if !hasSel {
		return nil
	}
	if !strings.HasSuffix(sel, "]") {
		return fmt.Errorf("selector %q lacks its closing ]", "["+sel)
	}
	for _, s := range strings.Split(strings.TrimSuffix(sel, "]"), ",") {
		if name, val, ok := strings.Cut(strings.TrimSpace(s), "="); ok && strings.TrimSpace(name) == "probe" {
			if err := e.admitProbe(strings.TrimSpace(val), s); err != nil {
				return err
			}
			continue
		}
		one, err := parseSelector(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		if err := e.admit(one, s); err != nil {
			return err
		}
		e.sel = append(e.sel, one)
	}
	return nil
}

// portKinds are the kinds whose exchanges carry ports: a port on any
// other kind's selector could never match, and the expectation would
// hold or fail for a reason the user did not write.
var portKinds = map[ExchangeKind]bool{KindTCPConn: true, KindUDPFlow: true, KindDNS: true, KindICMPError: true}

// admit refuses a selector that could never match beside the others: a
// port on a kind without ports, a second src= or dst=.
func (e *Expectation) admit(one selector, text string) error {
	if one.port != 0 && !portKinds[e.kind] {
		return fmt.Errorf("selector %q: %s exchanges have no ports; give the address alone", strings.TrimSpace(text), e.kind)
	}
	for _, s := range e.sel {
		if s.dst == one.dst {
			side := "src"
			if one.dst {
				side = "dst"
			}
			return fmt.Errorf("selector %q: %s= given twice; an exchange has one %s", strings.TrimSpace(text), side, side)
		}
	}
	return nil
}

// admitProbe takes a probe= selector: a probe whose packets exchanges
// of the kind can hold, given once.
func (e *Expectation) admitProbe(probe, text string) error {
	text = strings.TrimSpace(text)
	if e.probe != "" {
		return fmt.Errorf("selector %q: probe= given twice; an exchange is of one probe", text)
	}
	if !slices.Contains(probeNames, probe) {
		return fmt.Errorf("selector %q: want probe=%s", text, strings.Join(probeNames, "|"))
	}
	if can := probeKinds[e.kind]; probe != ProbeAny && !slices.Contains(can, probe) {
		return fmt.Errorf("selector %q: %s exchanges are never of a %s probe (they can be of %s)", text, e.kind, probe, strings.Join(can, ", "))
	}
	e.probe = probe
	return nil
}

// parseDrops parses drops[stray=true|false,probe=PROBE]: the kernel
// drops a trace -w file's facts say are trace's own making (true) or not,
// of a probe's packets (or of none, or of any).
func (e *Expectation) parseDrops(c string) error {
	e.what = "drops"
	sel, ok := strings.CutSuffix(strings.TrimPrefix(c, "drops["), "]")
	if !ok {
		return fmt.Errorf("selector %q lacks its closing ]", c[len("drops"):])
	}
	for _, one := range strings.Split(sel, ",") {
		one = strings.TrimSpace(one)
		name, val, _ := strings.Cut(one, "=")
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(name) {
		case "stray":
			b, err := strconv.ParseBool(val)
			if err != nil || val != "true" && val != "false" {
				return fmt.Errorf("selector %q: want stray=true or stray=false", one)
			}
			if e.stray != nil {
				return fmt.Errorf("selector %q: stray= given twice", one)
			}
			e.stray = &b
		case "probe":
			if e.probe != "" {
				return fmt.Errorf("selector %q: probe= given twice; a drop is of one probe's packet", one)
			}
			if !slices.Contains(probeNames, val) {
				return fmt.Errorf("selector %q: want probe=%s", one, strings.Join(probeNames, "|"))
			}
			e.probe = val
		default:
			return fmt.Errorf("selector %q: drops take stray=true|false and probe=PROBE", one)
		}
	}
	return nil
}

func parseSelector(s string) (selector, error) {
	name, val, ok := strings.Cut(s, "=")
	var sel selector
	switch strings.TrimSpace(name) {
	case "src":
	case "dst":
		sel.dst = true
	default:
		return sel, fmt.Errorf("selector %q: want src=ADDR[:PORT], dst=ADDR[:PORT] or probe=PROBE", s)
	}
	val = strings.TrimSpace(val)
	if !ok || val == "" {
		return sel, fmt.Errorf("selector %q has no address", s)
	}
	if ap, err := netip.ParseAddrPort(val); err == nil {
		sel.addr, sel.port = ap.Addr().Unmap(), ap.Port()
		return sel, nil
	}
	a, err := netip.ParseAddr(val)
	if err != nil {
		return sel, fmt.Errorf("selector %q: %q is neither ADDR nor ADDR:PORT ([V6]:PORT for IPv6)", s, val)
	}
	sel.addr = a.Unmap()
	return sel, nil
}

// joinStatuses lists statuses for a message.
func joinStatuses(ss []Status) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func kindNames() []string {
	var names []string
	for k := range Kinds {
		names = append(names, string(k))
	}
	slices.Sort(names)
	return names
}

// ReadExpectations parses an --expect-file: one expectation a line; blank
// lines and lines starting with # are skipped. Errors name the line.
func ReadExpectations(r io.Reader, name string) ([]*Expectation, error) {
	var list []*Expectation
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := ParseExpectation(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		list = append(list, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return list, nil
}

// Count adds ex to the count if it is of the kind and status and matches
// every selector.
func (e *Expectation) Count(ex *Exchange) {
	if e.what != "exchanges" || ex.Kind != e.kind || ex.Status != e.status {
		return
	}
	if !e.probeMatches(ex.Probe()) {
		return
	}
	for _, s := range e.sel {
		addr, port := ex.SrcAddr, ex.SrcPort
		if s.dst {
			addr, port = ex.DstAddr, ex.DstPort
		}
		if addr.Unmap() != s.addr || s.port != 0 && port != s.port {
			return
		}
	}
	e.Got++
}

// probeMatches reports whether a probe kind (ProbeNone for none) is one
// the expectation selects.
func (e *Expectation) probeMatches(kind string) bool {
	switch e.probe {
	case "":
		return true
	case ProbeAny:
		return kind != ProbeNone
	}
	return kind == e.probe
}

// DropTally is how many kernel drops of one kind a file held: of a
// probe's packets (its kind, or ProbeNone), trace's own making or not.
type DropTally struct {
	Probe string
	Stray bool
	N     int
}

// Settle sets the packet and drop counts and decides whether the
// expectation holds.
func (e *Expectation) Settle(packets int, drops []DropTally) bool {
	switch e.what {
	case "packets":
		e.Got = packets
	case "drops":
		e.Got = 0
		for _, d := range drops {
			if (e.stray == nil || *e.stray == d.Stray) && e.probeMatches(d.Probe) {
				e.Got += d.N
			}
		}
	}
	switch e.Op {
	case "==":
		e.OK = e.Got == e.Want
	case "!=":
		e.OK = e.Got != e.Want
	case "<":
		e.OK = e.Got < e.Want
	case "<=":
		e.OK = e.Got <= e.Want
	case ">":
		e.OK = e.Got > e.Want
	case ">=":
		e.OK = e.Got >= e.Want
	}
	return e.OK
}

// Failure is the line that says why an expectation does not hold.
func (e *Expectation) Failure() string {
	return fmt.Sprintf("expectation failed: %s: expected %s %d, got %d", e.Expr, e.Op, e.Want, e.Got)
}

// Summary counts exchanges per kind and status; read --json reports it as
// {"KIND:STATUS": N}.
type Summary map[SummaryKey]int

// SummaryKey is a kind and a status.
type SummaryKey struct {
	Kind   ExchangeKind
	Status Status
}

// Add counts one exchange.
func (s Summary) Add(ex *Exchange) { s[SummaryKey{ex.Kind, ex.Status}]++ }

// MarshalJSON writes {"KIND:STATUS": N}, keys sorted.
func (s Summary) MarshalJSON() ([]byte, error) {
	m := make(map[string]int, len(s))
	for k, n := range s {
		m[string(k.Kind)+":"+string(k.Status)] = n
	}
	return json.Marshal(m)
}
