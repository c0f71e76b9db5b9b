package main

import (
	"fmt"

	"github.com/nsdump/nsdump/decode"
	"github.com/spf13/pflag"
)

// printFlags are tcpdump's packet-printing flags, for capture and
// read --packets.
type printFlags struct {
	link            bool
	hex, ascii, vrb int
}

func addPrintFlags(fs *pflag.FlagSet) *printFlags {
	pf := &printFlags{}
	fs.BoolVarP(&pf.link, "link-header", "e", false, "print the link-layer header: MAC addresses, ethertype, frame length (as tcpdump -e)")
	fs.CountVarP(&pf.hex, "hex", "X", "print each packet in hex and ASCII from the network header on; -XX from the link header (as tcpdump)")
	fs.CountVarP(&pf.ascii, "ascii", "A", "print each packet in ASCII from the network header on; -AA from the link header (as tcpdump)")
	fs.CountVarP(&pf.vrb, "verbose", "v", "print IP TTL, id, flags, length and TCP options (as tcpdump -v)")
	fs.CountP("numeric", "n", "accepted for tcpdump's sake (-n, -nn): nsdump never resolves names or ports")
	return pf
}

func (pf *printFlags) format() decode.Format {
	return decode.Format{Link: pf.link, Hex: pf.hex, ASCII: pf.ascii, Verbose: pf.vrb}
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
			return fmt.Errorf("-i %s: use NS/IFACE as a target, as in nsdump capture NS/%s (nsdump ls lists each namespace's interfaces)", *iface, *iface)
		}
		if fs.Changed("read") {
			return fmt.Errorf("-r %s: to read a capture file, use nsdump read %s", *file, *file)
		}
		return nil
	}
}
