package trace

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// maxNameservers is how many nameserver lines the C library reads
// (MAXNS): the others are ignored; maxSearch is how many search domains it
// takes (MAXDNSRCH), and maxNdots the most ndots it takes.
const (
	maxNameservers = 3
	maxSearch      = 6
	maxNdots       = 15
)

// resolvConf is what a resolver reads of resolv.conf.
type resolvConf struct {
	servers []netip.Addr
	search  []string // the last search or domain line's
	ndots   int
}

// parseResolvConf reads a resolv.conf as the C library does: at most
// three `nameserver ADDR` lines (an IPv6 address with a zone kept with
// it), the last `search` or `domain` line, `options ndots:N` (1 when
// absent); anything unparsable skipped.
func parseResolvConf(r io.Reader) (resolvConf, error) {
	rc := resolvConf{ndots: 1}
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && len(rc.servers) < maxNameservers {
				rc.servers = append(rc.servers, a)
			}
		case "domain":
			rc.search = f[1:2]
		case "search":
			rc.search = f[1:min(len(f), 1+maxSearch)]
		case "options":
			for _, o := range f[1:] {
				if v, ok := strings.CutPrefix(o, "ndots:"); ok {
					if n, err := strconv.Atoi(v); err == nil && n >= 0 {
						rc.ndots = min(n, maxNdots)
					}
				}
			}
		}
	}
	return rc, sc.Err()
}

// searchNames are the names a resolver asks for name, in order, as the
// C library's res_search does: a name ending in a dot alone; one with at
// least ndots dots as it is, then with each search domain; one with fewer
// with each search domain first, then as it is. Names too long to ask
// are left out.
func (rc resolvConf) searchNames(name string) []dnsmessage.Name {
	if strings.HasSuffix(name, ".") {
		n, _ := dnsName(name)
		return []dnsmessage.Name{n}
	}
	var with []string
	for _, d := range rc.search {
		if d = strings.Trim(d, "."); d != "" {
			with = append(with, name+"."+d)
		}
	}
	order := append([]string{name}, with...)
	if strings.Count(name, ".") < rc.ndots {
		order = append(with, name)
	}
	var out []dnsmessage.Name
	for _, s := range order {
		if n, err := dnsName(s); err == nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
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
