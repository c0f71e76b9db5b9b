package decode

import (
	"encoding/json"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// AppendJSON appends what json.MarshalIndent(e, prefix, indent) gives,
// byte for byte, without reflection: `read --json` on a flood writes a
// million exchanges, and encoding/json took ten times as long as reading
// them. ok is false, and b unchanged, where the hand-written encoder does
// not apply: a field it does not know (exchangeFieldsKnown), a time
// encoding/json refuses, an RTT that is not a number; Src and Dst are then
// filled, for encoding/json. An exchange of the shape of one written
// shortly before is written from that one's template (jsontemplate.go).
func (e *Exchange) AppendJSON(b []byte, prefix, indent string) (_ []byte, ok bool) {
	if !exchangeFieldsKnown || !e.plain() {
		e.named() // for encoding/json
		return b, false
	}
	w := jsonWriter{b: b, layout: layoutFor(prefix, indent)}
	if templated(e) {
		if t := w.templateFor(e); t != nil {
			t.write(&w, e)
			return w.b, true
		}
		w.record(e)
	}
	w.open('{')
	w.str(kKind, string(e.Kind))
	w.str(kStatus, string(e.Status))
	if typedEnds(e) {
		// As named would fill them, without the strings; src_addr and
		// dst_addr are the same text again.
		w.value(kSrc, e, vSrc, 0)
		w.value(kDst, e, vDst, 0)
		w.value(kSrcAddr, e, vSrcAddr, 0)
		if e.SrcPort != 0 {
			w.value(kSrcPort, e, vSrcPort, 0)
		}
		w.value(kDstAddr, e, vDstAddr, 0)
	} else {
		e.named()
		w.str(kSrc, e.Src)
		w.str(kDst, e.Dst)
		w.addr(kSrcAddr, e.SrcAddr)
		if e.SrcPort != 0 {
			w.value(kSrcPort, e, vSrcPort, 0)
		}
		w.addr(kDstAddr, e.DstAddr)
	}
	if e.DstPort != 0 {
		w.value(kDstPort, e, vDstPort, 0)
	}
	if e.ID != nil {
		w.value(kId, e, vID, 0)
	}
	if e.Seq != nil {
		w.value(kSeq, e, vSeq, 0)
	}
	if e.RTTms != nil {
		w.value(kRttMs, e, vRTT, 0)
	}
	if e.Requests != 0 {
		w.value(kRequests, e, vRequests, 0)
	}
	if e.Answer != "" {
		w.str(kAnswer, e.Answer)
	}
	if e.ISN != nil {
		w.value(kIsn, e, vISN, 0)
	}
	if e.SynSeen != nil {
		w.bool(kSynSeen, *e.SynSeen)
	}
	if e.SynAckSeen {
		w.bool(kSynAckSeen, true)
	}
	if e.BytesToServer != nil {
		w.value(kBytesToServer, e, vToServer, 0)
	}
	if e.BytesToClient != nil {
		w.value(kBytesToClient, e, vToClient, 0)
	}
	if e.Close != "" {
		w.str(kClose, e.Close)
	}
	if len(e.Errors) > 0 {
		w.key(kIcmpErrors)
		w.open('[')
		for _, x := range e.Errors {
			w.elem()
			w.open('{')
			w.str(kFrom, x.From)
			w.uint(kType, uint64(x.Type))
			w.uint(kCode, uint64(x.Code))
			w.str(kText, x.Text)
			w.close('}')
		}
		w.close(']')
	}
	w.key(kSeen)
	if e.Seen == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.open('[')
		for i, s := range e.Seen {
			w.elem()
			w.open('{')
			w.str(kPoint, s.Point)
			w.str(kDir, s.Dir)
			w.value(kTime, e, vSeenTime, i)
			w.str(kWhat, s.What)
			if !s.Drop.IsZero() {
				w.str(kDrop, s.Drop.String())
			}
			if s.PacketID != 0 {
				w.value(kPacketId, e, vPacketID, i)
			}
			if s.Probe != "" {
				w.str(kProbe, s.Probe)
			}
			if s.Stray {
				w.bool(kStray, true)
			}
			w.close('}')
		}
		w.close(']')
	}
	if e.SeenMore != 0 {
		w.value(kSeenMore, e, vSeenMore, 0)
	}
	w.value(kStart, e, vStart, 0)
	w.close('}')
	w.keep()
	return w.b, true
}

// plain reports whether every time is one encoding/json writes (years 0
// to 9999) and the RTT a number.
func (e *Exchange) plain() bool {
	ok := func(t time.Time) bool {
		if u := t.Unix(); u > plainFrom && u < plainTo {
			return true // whatever t's zone: Year is dear, a flood asks it twice an exchange
		}
		y := t.Year()
		return y >= 0 && y <= 9999
	}
	if !ok(e.Start) || e.RTTms != nil && (math.IsNaN(*e.RTTms) || math.IsInf(*e.RTTms, 0)) {
		return false
	}
	for _, s := range e.Seen {
		if !ok(s.Time) {
			return false
		}
	}
	return true
}

// Between plainFrom and plainTo (Unix seconds) a time is in the years 0
// to 9999 in any zone: two days within 0000-01-01T00:00:00Z and
// 9999-12-31T23:59:59Z, more than any zone's offset.
const (
	plainFrom = -62167219200 + 2*86400
	plainTo   = 253402300799 - 2*86400
)

// jsonWriter writes indented JSON as json.Indent lays it out.
type jsonWriter struct {
	b     []byte
	depth int
	empty bool // nothing written yet in the innermost object or array
	*layout
	// The last time written and where its text is in b: an exchange's
	// start is its first sighting's time, written again.
	lastTime time.Time
	lastText [2]int
	// Where the text of the exchange's ends is in b, for addrAgain, and the
	// template being recorded, if any (jsontemplate.go).
	ends [2][2]int
	rec  *recording
}

// layout is the text between values for one prefix and indent, each piece
// appended at once: a flood's report writes twenty lines an exchange, and
// writing them a byte and an indent at a time took a third of its time.
type layout struct {
	prefix, indent string
	lines          [5]string       // a newline and the indent of each depth
	fields         [numKeys]string // ",", the line, and the field's name: what comes before its value
}

var lastLayout atomic.Pointer[layout]

// layoutFor returns the layout of prefix and indent, made once for the
// pair used last (read --json uses one).
func layoutFor(prefix, indent string) *layout {
	if l := lastLayout.Load(); l != nil && l.prefix == prefix && l.indent == indent {
		return l
	}
	l := &layout{prefix: prefix, indent: indent}
	for d := range l.lines {
		l.lines[d] = "\n" + prefix + strings.Repeat(indent, d)
	}
	for k, f := range jsonKeys {
		l.fields[k] = "," + l.lines[f.depth] + `"` + f.name + `": `
	}
	lastLayout.Store(l)
	return l
}

func (w *jsonWriter) newline() {
	if w.depth < len(w.lines) {
		w.b = append(w.b, w.lines[w.depth]...)
		return
	}
	w.b = append(w.b, '\n')
	w.b = append(w.b, w.prefix...)
	for i := 0; i < w.depth; i++ {
		w.b = append(w.b, w.indent...)
	}
}

func (w *jsonWriter) open(c byte) {
	w.b = append(w.b, c)
	w.depth++
	w.empty = true
}

func (w *jsonWriter) close(c byte) {
	w.depth--
	if !w.empty {
		w.newline()
	}
	w.b = append(w.b, c)
	w.empty = false
}

// elem starts an element of an array.
func (w *jsonWriter) elem() {
	if !w.empty {
		w.b = append(w.b, ',')
	}
	w.newline()
	w.empty = false
}

// key starts field k, at the depth jsonKeys gives it.
func (w *jsonWriter) key(k jsonKey) {
	f := w.fields[k]
	if w.empty {
		f = f[1:]
	}
	w.b = append(w.b, f...)
	w.empty = false
}

func (w *jsonWriter) str(k jsonKey, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

// end writes an exchange's end, quoted, as named does: the address, with
// the port (netip.AddrPort's form) when the exchange has ports. The
// address has no zone. It returns where the address's own text is in w.b,
// for addrAgain.
func (w *jsonWriter) end(a netip.Addr, port uint16, ports bool) (text [2]int) {
	w.b = append(w.b, '"')
	switch {
	case !ports || !a.IsValid():
		text[0] = len(w.b)
		w.b = a.AppendTo(w.b)
		text[1] = len(w.b)
	case a.Is4():
		text[0] = len(w.b)
		w.b = a.AppendTo(w.b)
		text[1] = len(w.b)
		w.b = append(w.b, ':')
		w.b = strconv.AppendUint(w.b, uint64(port), 10)
	default:
		w.b = append(w.b, '[')
		text[0] = len(w.b)
		w.b = a.AppendTo(w.b)
		text[1] = len(w.b)
		w.b = append(w.b, "]:"...)
		w.b = strconv.AppendUint(w.b, uint64(port), 10)
	}
	w.b = append(w.b, '"')
	return text
}

// addrAgain writes a, which has no zone, as addr writes its value, copying
// the text end wrote for it.
func (w *jsonWriter) addrAgain(a netip.Addr, text [2]int) {
	if !a.IsValid() {
		w.b = append(w.b, `""`...)
		return
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, w.b[text[0]:text[1]]...)
	w.b = append(w.b, '"')
}

// addr writes a as its MarshalText does: "" for the zero Addr.
func (w *jsonWriter) addr(k jsonKey, a netip.Addr) {
	switch {
	case !a.IsValid():
		w.str(k, "")
	case a.Zone() != "":
		w.str(k, a.String())
	default:
		w.key(k)
		w.b = append(w.b, '"')
		w.b = a.AppendTo(w.b)
		w.b = append(w.b, '"')
	}
}

func (w *jsonWriter) uint(k jsonKey, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jsonWriter) bool(k jsonKey, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

// time writes t, quoted, as its MarshalJSON does.
func (w *jsonWriter) time(t time.Time) {
	w.b = append(w.b, '"')
	if w.lastText[1] != 0 && t == w.lastTime { // the same instant, location and all
		w.b = append(w.b, w.b[w.lastText[0]:w.lastText[1]]...)
	} else {
		from := len(w.b)
		w.b = appendRFC3339Nano(w.b, t)
		w.lastTime, w.lastText = t, [2]int{from, len(w.b)}
	}
	w.b = append(w.b, '"')
}

// appendRFC3339Nano is t.AppendFormat(b, time.RFC3339Nano) for years 0 to
// 9999 (what plain allows), with the whole second's text taken from the
// last time written in the same second and location: the exchanges of a
// flood share their seconds, and formatting them in full took a fifth of
// the report's time.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	c := lastSecond.Load()
	if c == nil || c.sec != sec || c.loc != loc {
		whole := t.Add(-time.Duration(t.Nanosecond()))
		text := whole.AppendFormat(nil, time.RFC3339)
		if len(text) < len("2006-01-02T15:04:05Z") {
			return t.AppendFormat(b, time.RFC3339Nano)
		}
		c = &formattedSecond{sec: sec, loc: loc, date: string(text[:19]), zone: string(text[19:])}
		lastSecond.Store(c)
	}
	b = append(b, c.date...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, c.zone...)
}

// formattedSecond is a second's RFC 3339 text in one location: the date
// and time of day, and the zone after them.
type formattedSecond struct {
	sec        int64
	loc        *time.Location
	date, zone string
}

var lastSecond atomic.Pointer[formattedSecond]

// appendJSONString writes s as encoding/json does; anything but printable
// ASCII that needs no escaping goes through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonPlain says which bytes encoding/json writes as they are.
var jsonPlain = func() (plain [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		plain[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return plain
}()

// appendFloat writes a finite f as encoding/json's floatEncoder does.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// exchangeFields are the JSON fields AppendJSON writes, by type: a field
// added to Exchange, Sighting or ICMPErr turns AppendJSON off (encoding/json
// writes it) until AppendJSON writes it too; TestAppendJSONKnowsEveryField
// fails meanwhile.
var exchangeFields = map[reflect.Type][]string{
	reflect.TypeFor[Exchange](): {"kind", "status", "src", "dst", "src_addr", "src_port,omitempty", "dst_addr", "dst_port,omitempty",
		"id,omitempty", "seq,omitempty", "rtt_ms,omitempty", "requests,omitempty", "answer,omitempty", "isn,omitempty",
		"syn_seen,omitempty", "syn_ack_seen,omitempty", "bytes_to_server,omitempty", "bytes_to_client,omitempty",
		"close,omitempty", "icmp_errors,omitempty", "seen", "seen_more,omitempty", "start"},
	reflect.TypeFor[Sighting](): {"point", "dir", "time", "what", "drop,omitzero", "packet_id,omitempty", "probe,omitempty", "stray,omitempty"},
	reflect.TypeFor[ICMPErr]():  {"from", "type", "code", "text"},
}

var exchangeFieldsKnown = fieldsKnown()

func fieldsKnown() bool {
	for t, want := range exchangeFields {
		if !slices.Equal(jsonTags(t), want) {
			return false
		}
	}
	return true
}

// jsonTags lists the json tags of t's exported fields that JSON writes
// (not "-"), in order.
func jsonTags(t reflect.Type) []string {
	var tags []string
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() && f.Tag.Get("json") != "-" {
			tags = append(tags, f.Tag.Get("json"))
		}
	}
	return tags
}

// jsonKey is a field AppendJSON writes.
type jsonKey uint8

const (
	kKind jsonKey = iota
	kStatus
	kSrc
	kDst
	kSrcAddr
	kSrcPort
	kDstAddr
	kDstPort
	kId
	kSeq
	kRttMs
	kRequests
	kAnswer
	kIsn
	kSynSeen
	kSynAckSeen
	kBytesToServer
	kBytesToClient
	kClose
	kIcmpErrors
	kSeen
	kSeenMore
	kStart
	kFrom
	kType
	kCode
	kText
	kPoint
	kDir
	kTime
	kWhat
	kDrop
	kPacketId
	kProbe
	kStray
	numKeys
)

// jsonKeys are the fields' names and the depth each is written at (an
// exchange's fields at 1, a sighting's and an ICMP error's at 3).
var jsonKeys = [numKeys]struct {
	name  string
	depth int
}{
	kKind:          {"kind", 1},
	kStatus:        {"status", 1},
	kSrc:           {"src", 1},
	kDst:           {"dst", 1},
	kSrcAddr:       {"src_addr", 1},
	kSrcPort:       {"src_port", 1},
	kDstAddr:       {"dst_addr", 1},
	kDstPort:       {"dst_port", 1},
	kId:            {"id", 1},
	kSeq:           {"seq", 1},
	kRttMs:         {"rtt_ms", 1},
	kRequests:      {"requests", 1},
	kAnswer:        {"answer", 1},
	kIsn:           {"isn", 1},
	kSynSeen:       {"syn_seen", 1},
	kSynAckSeen:    {"syn_ack_seen", 1},
	kBytesToServer: {"bytes_to_server", 1},
	kBytesToClient: {"bytes_to_client", 1},
	kClose:         {"close", 1},
	kIcmpErrors:    {"icmp_errors", 1},
	kSeen:          {"seen", 1},
	kSeenMore:      {"seen_more", 1},
	kStart:         {"start", 1},
	kFrom:          {"from", 3},
	kType:          {"type", 3},
	kCode:          {"code", 3},
	kText:          {"text", 3},
	kPoint:         {"point", 3},
	kDir:           {"dir", 3},
	kTime:          {"time", 3},
	kWhat:          {"what", 3},
	kDrop:          {"drop", 3},
	kPacketId:      {"packet_id", 3},
	kProbe:         {"probe", 3},
	kStray:         {"stray", 3},
}
