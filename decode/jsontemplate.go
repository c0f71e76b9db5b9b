package decode

import (
	"strconv"
	"sync/atomic"
)

// Templates: the exchanges of a flood have one shape (the same kind,
// status, fields present, points and words), and their reports differ
// only in their numbers, addresses and times. AppendJSON records the text
// of an exchange it writes field by field as a template: the constant text
// between its values, and which value goes in each gap. An exchange of the
// same shape is then written from the template, the constant text a
// dozen appends in all instead of two dozen keys and strings. On a flood
// of a million unanswered SYNs, AppendJSON took a third of `read --json`'s
// CPU time, and templates take a fifth off its instructions (valgrind:
// 3,450 an echo request, 2,660 from a template).
//
// Only an exchange whose ends are typed (as a tracker that reuses
// exchanges emits them), with no ICMP errors, no drops and at most
// templateSightings sightings has a template; anything else is written
// field by field every time. TestAppendJSONTemplates checks that each
// exchange of the recorded captures comes out as encoding/json writes it,
// whichever exchange was written before it.

// templateSightings is the most sightings an exchange with a template has.
const templateSightings = 4

// jsonTemplate is an exchange shape's report: ops in order, each constant
// text and the value after it. It is not changed once made.
type jsonTemplate struct {
	layout *layout
	shape  shape
	ops    []templateOp
}

// templateOp is constant text and the value written after it (vNone for
// the text at the end).
type templateOp struct {
	text string
	v    templateValue
	i    int // the sighting, for vSeenTime and vPacketID
}

type templateValue uint8

const (
	vNone templateValue = iota
	vSrc
	vDst
	vSrcAddr
	vSrcPort
	vDstAddr
	vDstPort
	vID
	vSeq
	vRTT
	vRequests
	vISN
	vToServer
	vToClient
	vSeenTime
	vPacketID
	vSeenMore
	vStart
)

// shape is what decides the constant text of an exchange's report.
type shape struct {
	kind    ExchangeKind
	status  Status
	answer  string
	close   string
	present uint16 // presentFlags
	seenNil bool
	seen    []sightingShape
}

type sightingShape struct {
	point, dir, what, probe string
	packetID, stray         bool
}

// presentFlags are the optional fields e has, and the value of syn_seen.
func presentFlags(e *Exchange) uint16 {
	var f uint16
	if e.SrcPort != 0 {
		f |= 1 << 0
	}
	if e.DstPort != 0 {
		f |= 1 << 1
	}
	if e.ID != nil {
		f |= 1 << 2
	}
	if e.Seq != nil {
		f |= 1 << 3
	}
	if e.RTTms != nil {
		f |= 1 << 4
	}
	if e.Requests != 0 {
		f |= 1 << 5
	}
	if e.ISN != nil {
		f |= 1 << 6
	}
	if e.SynSeen != nil {
		f |= 1 << 7
		if *e.SynSeen {
			f |= 1 << 8
		}
	}
	if e.SynAckSeen {
		f |= 1 << 9
	}
	if e.BytesToServer != nil {
		f |= 1 << 10
	}
	if e.BytesToClient != nil {
		f |= 1 << 11
	}
	if e.SeenMore != 0 {
		f |= 1 << 12
	}
	return f
}

// typedEnds reports whether AppendJSON writes e's ends from its typed
// addresses and ports, as named would fill Src and Dst.
func typedEnds(e *Exchange) bool {
	return e.Src == "" && e.SrcAddr.IsValid() && e.SrcAddr.Zone() == "" && e.DstAddr.Zone() == ""
}

// templated reports whether e may be written from a template, or
// recorded as one: its ends typed, no ICMP errors, no drops, at most
// templateSightings sightings.
func templated(e *Exchange) bool {
	if !typedEnds(e) || len(e.Errors) != 0 || len(e.Seen) > templateSightings {
		return false
	}
	for i := range e.Seen {
		if !e.Seen[i].Drop.IsZero() {
			return false
		}
	}
	return true
}

// fits reports whether e, which may have a template, has the shape t was
// recorded from.
func (t *jsonTemplate) fits(e *Exchange) bool {
	s := &t.shape
	if e.Kind != s.kind || e.Status != s.status || e.Answer != s.answer || e.Close != s.close ||
		(e.Seen == nil) != s.seenNil || len(e.Seen) != len(s.seen) || presentFlags(e) != s.present {
		return false
	}
	for i := range e.Seen {
		x, y := &e.Seen[i], &s.seen[i]
		if x.Point != y.point || x.Dir != y.dir || x.What != y.what || x.Probe != y.probe ||
			(x.PacketID != 0) != y.packetID || x.Stray != y.stray {
			return false
		}
	}
	return true
}

// templates are the last shapes recorded, used in turn; nextTemplate is
// where the next one goes.
var (
	templates    [4]atomic.Pointer[jsonTemplate]
	nextTemplate atomic.Uint32
)

// templateFor returns the template that writes e, which may have one, in
// w's layout, or nil.
func (w *jsonWriter) templateFor(e *Exchange) *jsonTemplate {
	for i := range templates {
		if t := templates[i].Load(); t != nil && t.layout == w.layout && t.fits(e) {
			return t
		}
	}
	return nil
}

// recording is a template being recorded: where the exchange's text
// starts in w.b, its shape, and where each value's text is.
type recording struct {
	from   int
	shape  shape
	values []recordedValue
}

type recordedValue struct {
	from, to int
	v        templateValue
	i        int
}

// record starts recording the report of e, which may have a template.
func (w *jsonWriter) record(e *Exchange) {
	r := &recording{from: len(w.b), shape: shape{kind: e.Kind, status: e.Status, answer: e.Answer, close: e.Close,
		present: presentFlags(e), seenNil: e.Seen == nil}}
	for _, s := range e.Seen {
		r.shape.seen = append(r.shape.seen, sightingShape{point: s.Point, dir: s.Dir, what: s.What, probe: s.Probe,
			packetID: s.PacketID != 0, stray: s.Stray})
	}
	w.rec = r
}

// keep makes what was recorded a template, the exchange's text written.
func (w *jsonWriter) keep() {
	r := w.rec
	if r == nil {
		return
	}
	w.rec = nil
	text := string(w.b[r.from:])
	t := &jsonTemplate{layout: w.layout, shape: r.shape, ops: make([]templateOp, 0, len(r.values)+1)}
	at := r.from
	for _, x := range r.values {
		t.ops = append(t.ops, templateOp{text: text[at-r.from : x.from-r.from], v: x.v, i: x.i})
		at = x.to
	}
	t.ops = append(t.ops, templateOp{text: text[at-r.from:]})
	templates[nextTemplate.Add(1)%uint32(len(templates))].Store(t)
}

// write writes e, which fits t, from t.
func (t *jsonTemplate) write(w *jsonWriter, e *Exchange) { w.ops(e, t.ops) }

// value writes key k and value v of e (of sighting i), and notes where
// the value is for the template being recorded.
func (w *jsonWriter) value(k jsonKey, e *Exchange, v templateValue, i int) {
	w.key(k)
	from := len(w.b)
	w.ops(e, []templateOp{{v: v, i: i}})
	if w.rec != nil {
		w.rec.values = append(w.rec.values, recordedValue{from: from, to: len(w.b), v: v, i: i})
	}
}

// ops writes each op's text and the value of e after it: the one place a
// value's text is made, whether the exchange is written field by field
// (value, an op without text) or from a template. One loop, not a call a
// value: a flood's exchanges are a dozen values each.
func (w *jsonWriter) ops(e *Exchange, ops []templateOp) {
	for _, op := range ops {
		w.b = append(w.b, op.text...)
		switch op.v {
		case vSrc:
			w.ends[0] = w.end(e.SrcAddr, e.SrcPort, e.ports)
		case vDst:
			w.ends[1] = w.end(e.DstAddr, e.DstPort, e.ports)
		case vSrcAddr:
			w.addrAgain(e.SrcAddr, w.ends[0])
		case vSrcPort:
			w.b = strconv.AppendUint(w.b, uint64(e.SrcPort), 10)
		case vDstAddr:
			w.addrAgain(e.DstAddr, w.ends[1])
		case vDstPort:
			w.b = strconv.AppendUint(w.b, uint64(e.DstPort), 10)
		case vID:
			w.b = strconv.AppendUint(w.b, uint64(*e.ID), 10)
		case vSeq:
			w.b = strconv.AppendUint(w.b, uint64(*e.Seq), 10)
		case vRTT:
			w.b = appendFloat(w.b, *e.RTTms)
		case vRequests:
			w.b = strconv.AppendInt(w.b, int64(e.Requests), 10)
		case vISN:
			w.b = strconv.AppendUint(w.b, uint64(*e.ISN), 10)
		case vToServer:
			w.b = strconv.AppendInt(w.b, int64(*e.BytesToServer), 10)
		case vToClient:
			w.b = strconv.AppendInt(w.b, int64(*e.BytesToClient), 10)
		case vSeenTime:
			w.time(e.Seen[op.i].Time)
		case vPacketID:
			w.b = strconv.AppendUint(w.b, e.Seen[op.i].PacketID, 10)
		case vSeenMore:
			w.b = strconv.AppendInt(w.b, int64(e.SeenMore), 10)
		case vStart:
			w.time(e.Start)
		}
	}
}
