package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/trace"
)

// directionWidth is the width of the probes' direction column: the
// longest direction, at least 14, so that names of any length (pid:N,
// container names) keep the columns after it aligned.
func directionWidth(probes []trace.Probe) int {
	width := 14
	for _, p := range probes {
		width = max(width, len(decode.Printable(p.Direction)))
	}
	return width
}

// printProbe prints one probe's verdict as trace does: its outcome, where
// its packets were seen (when seen is set), and for a failure why, the
// route lookup and the fix; width is the direction column's.
func printProbe(w io.Writer, p trace.Probe, port uint16, paint func(code, s string) string, seen bool, width int) {
	fmt.Fprintln(w)
	kind := probeKind(p, port)
	if p.OK {
		rtt := ""
		if p.RTTms != nil {
			rtt = fmt.Sprintf("%.3f ms  ", *p.RTTms)
		}
		fmt.Fprintf(w, "%-*s %-10s %s  %s%s\n", width, decode.Printable(p.Direction), kind, paint("32", "ok"), rtt, decode.Printable(p.Detail))
	} else {
		fmt.Fprintf(w, "%-*s %-10s %s  %s in %s\n", width, decode.Printable(p.Direction), kind, paint("31", "FAIL"), decode.Printable(string(p.Cause)), decode.Printable(p.Namespace))
	}
	if seen {
		fmt.Fprintf(w, "    seen: %s\n", timeline(p))
	}
	if p.OK {
		return
	}
	fmt.Fprintf(w, "    why:  %s\n", decode.Printable(p.Detail))
	printKernelDrops(w, p)
	if p.RouteGet != nil {
		fmt.Fprintf(w, "    $ %s\n      %s\n", decode.Printable(p.RouteGet.Command), decode.Printable(p.RouteGet.Output))
	}
	if p.Fix != "" {
		fmt.Fprintf(w, "    fix:  %s\n", paint("1", decode.Printable(p.Fix)))
	}
}

// probeKind is the kind column of a probe's line, its family shown as the
// echo's is (icmp6-echo): tcp:7096 and tcp6:7096, mtu and mtu6.
func probeKind(p trace.Probe, port uint16) string {
	six := ""
	if p.Family == 6 {
		six = "6"
	}
	switch p.Kind {
	case "tcp":
		return fmt.Sprintf("tcp%s:%d", six, port)
	case "mtu", "udp", "dns":
		return string(p.Kind) + six
	}
	return string(p.Kind)
}

// timeline is where the probe's packets were seen, in order, ending in "no
// answer" for a failed probe when none of them answered. A probe that
// succeeded leaves out the kernel's drops (NS/drops): a copy freed after
// delivery, such as an echo reply no other ping socket wanted, is not news
// beside "ok"; --json keeps every sighting.
func timeline(p trace.Probe) string {
	seen := p.Seen
	if p.OK {
		seen = nil
		for _, s := range p.Seen {
			if _, drops := capture.DropsNamespace(s.Point); !drops {
				seen = append(seen, s)
			}
		}
	}
	if len(seen) == 0 {
		return "nothing on the wire"
	}
	var steps []string
	for _, s := range seen[:min(len(seen), 6)] {
		steps = append(steps, fmt.Sprintf("%s %s %s", decode.Printable(s.Point), s.Dir, s.What))
	}
	if len(seen) > 6 {
		steps = append(steps, fmt.Sprintf("... (%d sightings)", len(seen)))
	} else if !p.OK && !slices.ContainsFunc(seen, decode.Sighting.Answer) {
		steps = append(steps, "no answer")
	}
	return strings.Join(steps, " -> ")
}

// printKernelDrops prints the kernel's drops of a probe's packets, one line
// per reason, location and namespace: "kernel: NETFILTER_DROP at
// nft_do_chain in B (the echo request, 3 times)".
func printKernelDrops(w io.Writer, p trace.Probe) {
	type key struct {
		reason, location, ns, what string
		stray                      bool
	}
	var order []key
	count := map[key]int{}
	for _, kd := range p.KernelDrops {
		k := key{kd.Reason, kd.Location, kd.Namespace, kd.What, kd.Stray}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	for _, k := range order {
		times := ""
		if n := count[k]; n > 1 {
			times = fmt.Sprintf(", %d times", n)
		}
		if k.stray {
			times += "; trace's own, not the path's"
		}
		fmt.Fprintf(w, "    kernel: %s at %s in %s (%s%s)\n", decode.Printable(k.reason), decode.Printable(k.location), decode.Printable(k.ns), decode.Printable(k.what), times)
	}
}
