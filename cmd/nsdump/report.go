package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/nsdump/nsdump/decode"
)

// keepListed is how many exchanges of each group the text report lists one
// by one; past it, answered exchanges are summed up per kind and further
// failures only counted, so that a long capture reads in one screen and
// costs no memory.
const keepListed = 200

// summary is the text report, built as exchanges finish.
type summary struct {
	bad, good           []*decode.Exchange
	badCount, goodCount int
	kinds               map[decode.ExchangeKind]*kindStats
	kindOrder           []decode.ExchangeKind
}

type kindStats struct {
	count                  int
	rttN                   int
	rttSum, rttMin, rttMax float64
}

func (s *summary) add(ex *decode.Exchange) {
	if ex.Status == decode.StatusAnswered || ex.Status == decode.StatusEstablished {
		s.goodCount++
		if len(s.good) < keepListed {
			s.good = append(s.good, ex.Clone()) // the tracker reuses ex
		}
		if s.kinds == nil {
			s.kinds = map[decode.ExchangeKind]*kindStats{}
		}
		k := s.kinds[ex.Kind]
		if k == nil {
			k = &kindStats{}
			s.kinds[ex.Kind] = k
			s.kindOrder = append(s.kindOrder, ex.Kind)
		}
		k.count++
		if ex.RTTms != nil {
			r := *ex.RTTms
			if k.rttN == 0 || r < k.rttMin {
				k.rttMin = r
			}
			if r > k.rttMax {
				k.rttMax = r
			}
			k.rttSum += r
			k.rttN++
		}
		return
	}
	s.badCount++
	if len(s.bad) < keepListed {
		s.bad = append(s.bad, ex.Clone()) // the tracker reuses ex
	}
}

func (s *summary) print(w io.Writer, packets, drops, stray int) {
	fmt.Fprintf(w, "%s, %s: %d not answered or failed, %d answered\n", plural(packets, "packet"), plural(s.badCount+s.goodCount, "exchange"), s.badCount, s.goodCount)
	if stray > 0 {
		fmt.Fprintf(w, "%s, %d of them trace's own, not the path's\n", plural(drops, "kernel drop"), stray)
	}
	byStart := func(list []*decode.Exchange) {
		sort.SliceStable(list, func(i, j int) bool { return list[i].Start.Before(list[j].Start) })
	}
	if len(s.bad) > 0 {
		byStart(s.bad)
		fmt.Fprintf(w, "\nnever answered or failed:\n")
		for _, ex := range s.bad {
			fmt.Fprintln(w, "  "+exchangeLine(ex))
		}
		if s.badCount > len(s.bad) {
			fmt.Fprintf(w, "  ... and %d more (nsdump read --json lists them all)\n", s.badCount-len(s.bad))
		}
	}
	if s.goodCount == 0 {
		return
	}
	fmt.Fprintf(w, "\nanswered:\n")
	if s.goodCount <= keepListed {
		byStart(s.good)
		for _, ex := range s.good {
			fmt.Fprintln(w, "  "+exchangeLine(ex))
		}
		return
	}
	for _, kind := range s.kindOrder {
		k := s.kinds[kind]
		fmt.Fprintf(w, "  %-10s %d", kind, k.count)
		if k.rttN > 0 {
			fmt.Fprintf(w, ", rtt min/avg/max %.3f/%.3f/%.3f ms", k.rttMin, k.rttSum/float64(k.rttN), k.rttMax)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  (%d answered exchanges; nsdump read --json lists them all)\n", s.goodCount)
}

func exchangeLine(ex *decode.Exchange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %s > %s", ex.Kind, ex.Src, ex.Dst)
	if ex.ID != nil {
		fmt.Fprintf(&b, " id %d seq %d", *ex.ID, *ex.Seq)
	}
	fmt.Fprintf(&b, ": %s", ex.Status)
	if ex.RTTms != nil {
		fmt.Fprintf(&b, " in %.3f ms", *ex.RTTms)
	}
	if ex.Kind == decode.KindTCPConn && ex.Status == decode.StatusUnanswered && ex.SynAckSeen {
		b.WriteString(" (a SYN-ACK came back, the handshake never completed)")
	}
	if ex.Requests > 1 {
		fmt.Fprintf(&b, " after %d requests", ex.Requests)
	}
	if ex.Answer != "" {
		fmt.Fprintf(&b, " (%s)", ex.Answer)
	}
	if ex.BytesToServer != nil && ex.Status == decode.StatusEstablished {
		fmt.Fprintf(&b, ", %s ->, %s <-, close %s", plural(*ex.BytesToServer, "byte"), plural(*ex.BytesToClient, "byte"), ex.Close)
	}
	for _, e := range ex.Errors {
		fmt.Fprintf(&b, "; ICMP %s from %s", e.Text, e.From)
	}
	for _, n := range ex.DropNotes() {
		b.WriteString("; " + n)
	}
	points := []string{}
	for _, s := range ex.Seen {
		if s.Point != "" {
			own := ""
			if s.Stray {
				own = " (trace's own)"
			}
			points = append(points, decode.Printable(s.Point)+" "+s.Dir+" "+s.What+own)
		}
	}
	if len(points) > 0 && len(points) <= 8 {
		b.WriteString("; seen " + strings.Join(points, ", "))
	}
	return b.String()
}
