package trace

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology"
	"golang.org/x/net/dns/dnsmessage"
)

// TestDNSResponseFacts: what the dns probe takes of the responses it got,
// without a network: the addresses at the end of a CNAME chain (names
// compared without case, records of other owners left out, as the C
// library does), a truncated response, NXDOMAIN from either query, a
// CNAME loop, and a response cut inside a record, which ends the reading
// instead of offering the record again forever.
func TestDNSResponseFacts(t *testing.T) {
	name := dnsmessage.MustNewName("web.example.")
	type rr struct {
		owner, cname, addr string
	}
	msg := func(t *testing.T, h dnsmessage.Header, rrs ...rr) []byte {
		h.Response = true
		b := dnsmessage.NewBuilder(nil, h)
		b.EnableCompression()
		if err := b.StartQuestions(); err != nil {
			t.Fatal(err)
		}
		if err := b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
			t.Fatal(err)
		}
		if err := b.StartAnswers(); err != nil {
			t.Fatal(err)
		}
		for _, r := range rrs {
			rh := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(r.owner), Class: dnsmessage.ClassINET, TTL: 60}
			var err error
			switch a := netip.MustParseAddr(orZero(r.addr)); {
			case r.cname != "":
				err = b.CNAMEResource(rh, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(r.cname)})
			case a.Is4():
				err = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
			default:
				err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		out, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ok := dnsmessage.Header{RCode: dnsmessage.RCodeSuccess}
	chain := msg(t, ok,
		rr{owner: "web.example.", cname: "lb.example."},
		rr{owner: "LB.Example.", cname: "cdn.example."},
		rr{owner: "cdn.example.", addr: "10.3.0.81"},
		rr{owner: "other.example.", addr: "10.9.9.9"})
	chain6 := msg(t, ok,
		rr{owner: "web.example.", cname: "lb.example."},
		rr{owner: "lb.example.", cname: "cdn.example."},
		rr{owner: "CDN.example.", addr: "fd00::81"})
	cut := msg(t, ok, rr{owner: "web.example.", addr: "10.3.0.80"}, rr{owner: "web.example.", addr: "10.3.0.82"})
	cut = cut[:len(cut)-2]
	for _, tt := range []struct {
		name      string
		answers   [][]byte
		rcode     string
		addrs     string
		cnames    string
		truncated bool
	}{
		{"a CNAME chain, A and AAAA", [][]byte{chain, chain6}, "NOERROR", "10.3.0.81 fd00::81", "lb.example. cdn.example.", false},
		{"truncated, no answer", [][]byte{msg(t, dnsmessage.Header{Truncated: true})}, "NOERROR", "", "", true},
		{"NXDOMAIN from the second wins", [][]byte{msg(t, dnsmessage.Header{RCode: dnsmessage.RCodeServerFailure}), msg(t, dnsmessage.Header{RCode: dnsmessage.RCodeNameError})}, "NXDOMAIN", "", "", false},
		{"a CNAME loop", [][]byte{msg(t, ok, rr{owner: "web.example.", cname: "loop.example."}, rr{owner: "loop.example.", cname: "web.example."}, rr{owner: "web.example.", addr: "10.3.0.80"})},
			"NOERROR", "", "loop.example. web.example. loop.example. web.example. loop.example. web.example. loop.example. web.example. loop.example. web.example. loop.example. web.example. loop.example. web.example. loop.example. web.example.", false},
		{"cut inside its second record", [][]byte{cut}, "NOERROR", "10.3.0.80", "", false},
		{"not a DNS message", [][]byte{[]byte("nsdump")}, "", "", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := responseFacts(name, tt.answers)
			var addrs []string
			for _, a := range f.Addresses {
				addrs = append(addrs, a.String())
			}
			got := []string{f.RCode, strings.Join(addrs, " "), strings.Join(f.CNAMEs, " ")}
			want := []string{tt.rcode, tt.addrs, tt.cnames}
			if !slices.Equal(got, want) || f.Truncated != tt.truncated || f.Answered != (tt.rcode != "") {
				t.Errorf("rcode, addresses, cnames %q, truncated %v, answered %v; want %q, %v, %v", got, f.Truncated, f.Answered, want, tt.truncated, tt.rcode != "")
			}
		})
	}
}

func orZero(a string) string {
	if a == "" {
		return "0.0.0.0"
	}
	return a
}

// TestOpenResolvConf: a container's resolv.conf is read inside its root:
// an absolute symbolic link there leads to the container's file, not the
// host's; a missing file and a directory are errors that name the path.
func TestOpenResolvConf(t *testing.T) {
	root := t.TempDir()
	stub := "/run/n3u-" + filepath.Base(root) + "/stub-resolv.conf" // no such file in the host
	for _, dir := range []string{"etc", filepath.Dir(stub)} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, stub), []byte("nameserver 127.0.0.53\nsearch n3u.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stub, filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	f, err := openResolvConf(root+"/etc/resolv.conf", root)
	if err != nil {
		t.Fatalf("a link inside the root: %v", err)
	}
	rc, err := parseResolvConf(f)
	f.Close()
	if err != nil || len(rc.servers) != 1 || rc.servers[0].String() != "127.0.0.53" || !slices.Equal(rc.search, []string{"n3u.test"}) {
		t.Errorf("read %+v, %v; want the container's nameserver 127.0.0.53, search n3u.test", rc, err)
	}

	if _, err := openResolvConf(root+"/etc/none.conf", root); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), root+"/etc/none.conf") {
		t.Errorf("a missing file: %v; want not exist, naming the path", err)
	}
	f, err = openResolvConf(root+"/etc", "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := parseResolvConf(f); err == nil || err.Error() != "read "+root+"/etc: is a directory" {
		t.Errorf("a directory: %v; want %q", err, "read "+root+"/etc: is a directory")
	}
}

// TestResolvConfOf: the file a target's processes read: a process's own
// inside its root, by pid: or by its namespace's path; the host's for a
// namespace path that is not a process's, and for a named namespace
// without /etc/netns/NAME/resolv.conf.
func TestResolvConfOf(t *testing.T) {
	s := &side{info: &topology.Namespace{}}
	for _, tt := range []struct{ target, path, root string }{
		{"pid:4242", "/proc/4242/root/etc/resolv.conf", "/proc/4242/root"},
		{"/proc/4242/ns/net", "/proc/4242/root/etc/resolv.conf", "/proc/4242/root"},
		{"/proc/self/ns/net", "/etc/resolv.conf", ""},
		{"/run/netns/n3u-none", "/etc/resolv.conf", ""},
		{"n3u-no-such-netns", "/etc/resolv.conf", ""},
	} {
		if path, root := resolvConfOf(tt.target, s); path != tt.path || root != tt.root {
			t.Errorf("%s: %s in %q; want %s in %q", tt.target, path, root, tt.path, tt.root)
		}
	}
}
