package trace

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// maxNameservers is how many nameserver lines the C library reads
// (MAXNS): the others are ignored.
const maxNameservers = 3

// parseResolvConf reads the nameservers of a resolv.conf, as the C
// library does: at most three `nameserver ADDR` lines, an IPv6 address
// with a zone (fe80::1%eth0) kept with it, anything unparsable skipped.
func parseResolvConf(r io.Reader) ([]netip.Addr, error) {
	var out []netip.Addr
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() && len(out) < maxNameservers {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(f[1]); err == nil {
			out = append(out, a)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return out, nil
}

// ValidateDNSName checks a name given to --dns: a domain name of labels
// of 1-63 bytes, 253 in all, with or without its final dot.
func ValidateDNSName(s string) error {
	_, err := dnsName(s)
	return err
}

// dnsName checks a name given to --dns and makes it fully qualified:
// labels of 1-63 bytes, 253 bytes in all without the final dot, each byte
// printable ASCII other than space (what a verdict can show as it is).
func dnsName(s string) (dnsmessage.Name, error) {
	name := strings.TrimSuffix(s, ".")
	switch {
	case name == "":
		return dnsmessage.Name{}, fmt.Errorf("--dns %q: give a name to resolve", s)
	case len(name) > 253:
		return dnsmessage.Name{}, fmt.Errorf("--dns %.20q...: a name is at most 253 bytes", s)
	case strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		return dnsmessage.Name{}, fmt.Errorf("--dns %q: a name is printable ASCII without spaces", s)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return dnsmessage.Name{}, fmt.Errorf("--dns %q: a label (between dots) must be 1-63 bytes", s)
		}
	}
	return dnsmessage.NewName(name + ".")
}
