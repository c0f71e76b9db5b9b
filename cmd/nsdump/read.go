package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
)

func runRead(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "read")
	asJSON := fs.Bool("json", false, "print the exchange report as JSON")
	packets := fs.Bool("packets", false, "print one line per packet before the report")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("read needs at least one capture file (- for standard input)")
	}
	files, expr := splitFilter(fs.Args())
	filter, err := capture.NewFilterSet(strings.Join(expr, " "))
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(e.stdout, 1<<16)
	defer out.Flush()
	t := decode.NewTracker(nil)
	var line []byte
	var each func(*decode.Packet, string)
	if *packets {
		each = func(p *decode.Packet, point string) {
			line = decode.AppendLine(line[:0], p, point)
			line = append(line, '\n')
			out.Write(line)
		}
	}
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := readOne(name, t, filter, each); err != nil {
			return err
		}
	}
	rep := t.Report()
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printReport(out, rep)
	return nil
}

// splitFilter separates file names from a trailing filter expression: the
// files come first and exist (or are "-").
func splitFilter(args []string) (files, filter []string) {
	for i, a := range args {
		if a == "-" {
			continue
		}
		if _, err := os.Stat(a); err != nil && i > 0 {
			return args[:i], args[i:]
		}
	}
	return args, nil
}

func readOne(name string, t *decode.Tracker, filter *capture.FilterSet, each func(*decode.Packet, string)) error {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, errors.Unwrap(err))
		}
		defer f.Close()
		r = f
	}
	if err := decode.ReadFile(r, t, filter, each); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

func printReport(w io.Writer, rep decode.Report) {
	var bad, good []*decode.Exchange
	for _, ex := range rep.Exchanges {
		if ex.Status == decode.StatusAnswered || ex.Status == decode.StatusEstablished {
			good = append(good, ex)
		} else {
			bad = append(bad, ex)
		}
	}
	fmt.Fprintf(w, "%d packets, %d exchanges: %d not answered or failed, %d answered\n", rep.Packets, len(rep.Exchanges), len(bad), len(good))
	for _, group := range []struct {
		title string
		list  []*decode.Exchange
	}{{"never answered or failed", bad}, {"answered", good}} {
		if len(group.list) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", group.title)
		for _, ex := range group.list {
			fmt.Fprintln(w, "  "+exchangeLine(ex))
		}
	}
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
		fmt.Fprintf(&b, ", %d bytes ->, %d bytes <-, close %s", *ex.BytesToServer, *ex.BytesToClient, ex.Close)
	}
	for _, e := range ex.Errors {
		fmt.Fprintf(&b, "; ICMP %s from %s", e.Text, e.From)
	}
	points := []string{}
	for _, s := range ex.Seen {
		if s.Point != "" {
			points = append(points, s.Point+" "+s.Dir+" "+s.What)
		}
	}
	if len(points) > 0 && len(points) <= 8 {
		b.WriteString("; seen " + strings.Join(points, ", "))
	}
	return b.String()
}
