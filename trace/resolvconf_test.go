package trace

import (
	"strings"
	"testing"
)

// TestResolvConf: what a resolver reads of resolv.conf, and the names it
// asks in order (glibc's res_search: ndots decides whether the name is
// asked as it is before or after the search domains).
func TestResolvConf(t *testing.T) {
	for _, tt := range []struct {
		name, conf, ask string
		servers         string
		want            string
	}{
		{"docker's", "search example.com\nnameserver 127.0.0.11\noptions ndots:0\n", "db", "127.0.0.11", "db. db.example.com."},
		{"kubernetes'", "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n", "web.shop",
			"10.96.0.10", "web.shop.default.svc.cluster.local. web.shop.svc.cluster.local. web.shop.cluster.local. web.shop."},
		{"enough dots: as it is first", "nameserver 10.0.0.1\nsearch lan\n", "www.example", "10.0.0.1", "www.example. www.example.lan."},
		{"a final dot: as it is only", "nameserver 10.0.0.1\nsearch lan\n", "www.example.", "10.0.0.1", "www.example."},
		{"the last of domain and search wins", "domain a.test\nsearch b.test c.test\nnameserver 10.0.0.1\n", "x", "10.0.0.1", "x.b.test. x.c.test. x."},
		{"at most 3 nameservers, and zones kept", "nameserver 10.0.0.1\nnameserver fe80::1%eth0\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n", "x.y", "10.0.0.1 fe80::1%eth0 10.0.0.3", "x.y."},
		{"junk skipped", "nameserver\nnameserver not-an-address\n# comment\noptions ndots:x\nnameserver ::1\n", "a.b", "::1", "a.b."},
		{"a search name too long is not asked", "nameserver 10.0.0.1\nsearch " + strings.Repeat("d", 63) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("f", 63) + "\n",
			strings.Repeat("g", 63), "10.0.0.1", strings.Repeat("g", 63) + "."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := parseResolvConf(strings.NewReader(tt.conf))
			if err != nil {
				t.Fatal(err)
			}
			var servers, names []string
			for _, s := range rc.servers {
				servers = append(servers, s.String())
			}
			for _, n := range rc.searchNames(tt.ask) {
				names = append(names, n.String())
			}
			if strings.Join(servers, " ") != tt.servers || strings.Join(names, " ") != tt.want {
				t.Errorf("servers %q, names %q; want %q, %q", servers, names, tt.servers, tt.want)
			}
		})
	}
}
