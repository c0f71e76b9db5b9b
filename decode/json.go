package decode

import (
	"encoding/json"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// AppendJSON appends what json.MarshalIndent(e, prefix, indent) gives,
// byte for byte, without reflection: `read --json` on a flood writes a
// million exchanges, and encoding/json took ten times as long as reading
// them. ok is false, and b unchanged, where the hand-written encoder does
// not apply: a field it does not know (exchangeFieldsKnown), a time
// encoding/json refuses, an RTT that is not a number; Src and Dst are then
// filled, for encoding/json.
func (e *Exchange) AppendJSON(b []byte, prefix, indent string) (_ []byte, ok bool) {
	if !exchangeFieldsKnown || !e.plain() {
		e.named() // for encoding/json
		return b, false
	}
	w := jsonWriter{b: b, prefix: prefix, indent: indent}
	if pad := 1 + len(prefix) + 4*len(indent); pad <= len(w.pad) {
		w.padLen = pad
		w.pad[0] = '\n'
		n := 1 + copy(w.pad[1:], prefix)
		for range 4 {
			n += copy(w.pad[n:], indent)
		}
	}
	w.open('{')
	w.str("kind", string(e.Kind))
	w.str("status", string(e.Status))
	if e.Src == "" && e.SrcAddr.IsValid() && e.SrcAddr.Zone() == "" && e.DstAddr.Zone() == "" {
		// As named would fill them, without the strings.
		w.end("src", e.SrcAddr, e.SrcPort, e.ports)
		w.end("dst", e.DstAddr, e.DstPort, e.ports)
	} else {
		e.named()
		w.str("src", e.Src)
		w.str("dst", e.Dst)
	}
	w.addr("src_addr", e.SrcAddr)
	if e.SrcPort != 0 {
		w.uint("src_port", uint64(e.SrcPort))
	}
	w.addr("dst_addr", e.DstAddr)
	if e.DstPort != 0 {
		w.uint("dst_port", uint64(e.DstPort))
	}
	if e.ID != nil {
		w.uint("id", uint64(*e.ID))
	}
	if e.Seq != nil {
		w.uint("seq", uint64(*e.Seq))
	}
	if e.RTTms != nil {
		w.key("rtt_ms")
		w.b = appendFloat(w.b, *e.RTTms)
	}
	if e.Requests != 0 {
		w.int("requests", int64(e.Requests))
	}
	if e.Answer != "" {
		w.str("answer", e.Answer)
	}
	if e.ISN != nil {
		w.uint("isn", uint64(*e.ISN))
	}
	if e.SynSeen != nil {
		w.bool("syn_seen", *e.SynSeen)
	}
	if e.SynAckSeen {
		w.bool("syn_ack_seen", true)
	}
	if e.BytesToServer != nil {
		w.int("bytes_to_server", int64(*e.BytesToServer))
	}
	if e.BytesToClient != nil {
		w.int("bytes_to_client", int64(*e.BytesToClient))
	}
	if e.Close != "" {
		w.str("close", e.Close)
	}
	if len(e.Errors) > 0 {
		w.key("icmp_errors")
		w.open('[')
		for _, x := range e.Errors {
			w.elem()
			w.open('{')
			w.str("from", x.From)
			w.uint("type", uint64(x.Type))
			w.uint("code", uint64(x.Code))
			w.str("text", x.Text)
			w.close('}')
		}
		w.close(']')
	}
	w.key("seen")
	if e.Seen == nil {
		w.b = append(w.b, "null"...)
	} else {
		w.open('[')
		for _, s := range e.Seen {
			w.elem()
			w.open('{')
			w.str("point", s.Point)
			w.str("dir", s.Dir)
			w.time("time", s.Time)
			w.str("what", s.What)
			if !s.Drop.IsZero() {
				w.str("drop", s.Drop.String())
			}
			if s.PacketID != 0 {
				w.uint("packet_id", s.PacketID)
			}
			if s.Probe != "" {
				w.str("probe", s.Probe)
			}
			if s.Stray {
				w.bool("stray", true)
			}
			w.close('}')
		}
		w.close(']')
	}
	if e.SeenMore != 0 {
		w.int("seen_more", int64(e.SeenMore))
	}
	w.time("start", e.Start)
	w.close('}')
	return w.b, true
}

// plain reports whether every time is one encoding/json writes (years 0
// to 9999) and the RTT a number.
func (e *Exchange) plain() bool {
	ok := func(t time.Time) bool { y := t.Year(); return y >= 0 && y <= 9999 }
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

// jsonWriter writes indented JSON as json.Indent lays it out.
type jsonWriter struct {
	b              []byte
	prefix, indent string
	depth          int
	empty          bool // nothing written yet in the innermost object or array
	// pad[:padLen] is a newline, the prefix and four indents: a flood's
	// report writes twenty lines an exchange, each one append.
	pad    [64]byte
	padLen int
}

func (w *jsonWriter) newline() {
	if n := 1 + len(w.prefix) + w.depth*len(w.indent); n <= w.padLen {
		w.b = append(w.b, w.pad[:n]...)
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

func (w *jsonWriter) key(k string) {
	if !w.empty {
		w.b = append(w.b, ',')
	}
	w.newline()
	w.empty = false
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, `": `...)
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

// end writes an exchange's end as named does: the address, with the port
// (netip.AddrPort's form) when the exchange has ports.
func (w *jsonWriter) end(k string, a netip.Addr, port uint16, ports bool) {
	w.key(k)
	w.b = append(w.b, '"')
	if ports {
		w.b = netip.AddrPortFrom(a, port).AppendTo(w.b)
	} else {
		w.b = a.AppendTo(w.b)
	}
	w.b = append(w.b, '"')
}

// addr writes a as its MarshalText does: "" for the zero Addr.
func (w *jsonWriter) addr(k string, a netip.Addr) {
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

func (w *jsonWriter) uint(k string, v uint64) {
	w.key(k)
	w.b = strconv.AppendUint(w.b, v, 10)
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonWriter) time(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = appendRFC3339Nano(w.b, t)
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
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

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
