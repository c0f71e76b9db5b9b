package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
	"github.com/spf13/pflag"
)

// printFlags are tcpdump's packet-printing flags, for capture and
// read --packets.
type printFlags struct {
	link, absolute         bool
	hex, ascii, vrb, times int
}

func addPrintFlags(fs *pflag.FlagSet) *printFlags {
	pf := &printFlags{}
	fs.BoolVarP(&pf.link, "link-header", "e", false, "print the link-layer header: MAC addresses, ethertype, frame length (as tcpdump -e)")
	fs.CountVarP(&pf.hex, "hex", "X", "print each packet in hex and ASCII from the network header on; -XX from the link header (as tcpdump)")
	fs.CountVarP(&pf.ascii, "ascii", "A", "print each packet in ASCII from the network header on; -AA from the link header (as tcpdump)")
	fs.BoolVarP(&pf.absolute, "absolute-tcp-sequence-numbers", "S", false, "print TCP sequence numbers as sent, not relative to each connection's first (as tcpdump -S)")
	fs.CountVarP(&pf.vrb, "verbose", "v", "print IP TTL, id, flags, length and TCP options (as tcpdump -v)")
	fs.CountVarP(&pf.times, "time", "t", "the time as tcpdump: -t none, -tt seconds since 1970, -ttt since the previous packet, -tttt date and time (UTC), -ttttt since the first packet")
	fs.CountP("numeric", "n", "accepted for tcpdump's sake (-n, -nn): nsdump never resolves names or ports")
	return pf
}

func (pf *printFlags) format() decode.Format {
	return decode.Format{Link: pf.link, Hex: pf.hex, ASCII: pf.ascii, Verbose: pf.vrb}
}

// printer returns what appends a packet's line as the flags ask.
func (pf *printFlags) printer() func(b []byte, p *decode.Packet, point string, data []byte) []byte {
	pr := decode.NewPrinter(pf.format(), pf.absolute)
	st := &stamper{style: min(pf.times, 5)}
	return func(b []byte, p *decode.Packet, point string, data []byte) []byte {
		start := len(b)
		b = pr.Append(b, p, point, data)
		if st.style == 0 || p.NoTime {
			return b
		}
		return st.restamp(b, start, p.Time)
	}
}

// stamper rewrites the clock that starts a line (hh:mm:ss.uuuuuu and a
// space) in the style of tcpdump's -t flags.
type stamper struct {
	style       int
	first, prev time.Time
	seen        bool
	buf, tail   []byte
}

const clockLen = len("15:04:05.000000 ")

func (s *stamper) restamp(b []byte, start int, t time.Time) []byte {
	if !s.seen {
		s.first, s.prev, s.seen = t, t, true
	}
	stamp := s.buf[:0]
	switch s.style {
	case 2:
		us := t.UnixMicro()
		stamp = fmt.Appendf(stamp, "%d.%06d ", us/1e6, us%1e6)
	case 3:
		stamp = appendDelta(stamp, t.UnixMicro()-s.prev.UnixMicro())
	case 4:
		stamp = t.UTC().AppendFormat(stamp, "2006-01-02 15:04:05.000000 ")
	case 5:
		stamp = appendDelta(stamp, t.UnixMicro()-s.first.UnixMicro())
	}
	s.prev, s.buf = t, stamp
	rest := b[start+clockLen:]
	if len(stamp) <= clockLen {
		n := copy(b[start:], stamp)
		return append(b[:start+n], rest...) // a move down the same array
	}
	s.tail = append(s.tail[:0], rest...)
	return append(append(b[:start], stamp...), s.tail...)
}

// appendDelta writes " hh:mm:ss.uuuuuu " of a difference in microseconds
// (tcpdump's timestamps are microseconds), as tcpdump -ttt does.
func appendDelta(b []byte, us int64) []byte {
	us = max(us, 0)
	return fmt.Appendf(b, " %02d:%02d:%02d.%06d ", us/3_600_000_000, us/60_000_000%60, us/1_000_000%60, us%1_000_000)
}

// addTcpdumpRefusals registers tcpdump's -i and -r, hidden, so that they
// get an answer in nsdump's terms rather than "unknown flag"; the function
// returned reports their use.
func addTcpdumpRefusals(fs *pflag.FlagSet) func() error {
	iface := fs.StringP("interface", "i", "", "")
	file := fs.StringP("read", "r", "", "")
	fs.MarkHidden("interface")
	fs.MarkHidden("read")
	return func() error {
		if fs.Changed("interface") {
			// With one namespace named (capture dwa -i dwv0), the target
			// meant is that namespace's interface.
			ns := "NS"
			if fs.NArg() == 1 && !strings.Contains(fs.Arg(0), "/") && topology.ValidateTarget(fs.Arg(0)) == nil {
				ns = fs.Arg(0)
			}
			return fmt.Errorf("-i %s: use NS/IFACE as a target, as in nsdump capture %s/%s (nsdump ls lists each namespace's interfaces)", *iface, ns, *iface)
		}
		if fs.Changed("read") {
			return fmt.Errorf("-r %s: to read a capture file, use nsdump read %s", *file, *file)
		}
		return nil
	}
}
