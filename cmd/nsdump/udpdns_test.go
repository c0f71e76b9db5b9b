package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/enginetest"
	"github.com/nsdump/nsdump/internal/labtest"
)

// TestTraceUDPDNSFlags: a bad --udp or --dns is one line and exit 2,
// before any namespace is looked at.
func TestTraceUDPDNSFlags(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--udp", "0"}, "--udp 0: the UDP port must be 1-65535"},
		{[]string{"--udp", "65536"}, "--udp 65536"},
		{[]string{"--udp", "dns"}, "--udp dns"},
		{[]string{"--dns", ""}, `--dns "": give a name to resolve`},
		{[]string{"--dns", "."}, `--dns ".": give a name to resolve`},
		{[]string{"--dns", "a..b"}, "a label (between dots) must be 1-63 bytes"},
		{[]string{"--dns", long + ".example"}, "a label (between dots) must be 1-63 bytes"},
		{[]string{"--dns", strings.Repeat("abcdefg.", 32) + "x"}, "a name is at most 253 bytes"},
		{[]string{"--dns", "web server"}, "printable ASCII without spaces"},
		{[]string{"--dns", "web\x1b[31m"}, "printable ASCII without spaces"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, e, code := nsdump(append([]string{"trace", "nsdn3u-never-a", "nsdn3u-never-b"}, tt.args...)...)
			if code != 2 || !strings.Contains(e, tt.want) || strings.Count(e, "\n") != 1 || strings.Contains(e, "\x1b") {
				t.Fatalf("exit %d, %q; want exit 2 and one line containing %q", code, e, tt.want)
			}
		})
	}
}

// TestTraceUDPDNS: --udp and --dns on a lab: the udp probe each way and
// the dns probe are in the text and the JSON; a resolv.conf that names no
// nameserver is an error of the environment (exit 2), with no namespace
// or table left behind.
func TestTraceUDPDNS(t *testing.T) {
	l := labtest.New(t, "n3u", true)
	dir := filepath.Join("/etc/netns", l.NS0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("search example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, e, code := nsdump("trace", l.NS0, l.NS1, "--dns", "web.example")
	if code != 2 || !strings.Contains(e, "--dns: "+conf+" names no nameserver") {
		t.Fatalf("exit %d, %q; want exit 2 naming %s", code, e, conf)
	}
	// Nothing answers on B's port 53: the dns probe fails, port-closed in B.
	if err := os.WriteFile(conf, []byte("nameserver "+l.Addr1.Addr().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, e, code := nsdump("trace", l.NS0, l.NS1, "--udp", "7098", "--dns", "web.example", "--json", "--timeout", "2s")
	if code != 1 {
		t.Fatalf("exit %d, %s; want 1 (the dns probe fails)", code, e)
	}
	var res struct {
		Probes []struct {
			Direction, Kind, Cause, Namespace, Detail string
			OK                                        bool
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, p := range res.Probes {
		switch {
		case p.Kind == "udp" && p.OK:
			kinds[p.Direction+" udp"] = "ok"
		case p.Kind == "dns":
			kinds[p.Direction+" dns"] = p.Cause + " in " + p.Namespace
		case !p.OK:
			t.Errorf("%s %s: %s in %s: %s", p.Direction, p.Kind, p.Cause, p.Namespace, p.Detail)
		}
	}
	ab, ba := l.NS0+"->"+l.NS1, l.NS1+"->"+l.NS0
	if kinds[ab+" udp"] != "ok" || kinds[ba+" udp"] != "ok" || kinds[ab+" dns"] != "port-closed in "+l.NS1 {
		t.Errorf("probes %v; want udp ok both ways and dns port-closed in %s", kinds, l.NS1)
	}
	file := filepath.Join(t.TempDir(), "udp.pcapng")
	text, _, _ := nsdump("trace", l.NS0, l.NS1, "--udp", "7098", "--timeout", "2s", "-w", file)
	for _, want := range []string{ab, "udp  ", "ok  ", "3/3 datagrams to " + l.Addr1.Addr().String() + ":7098 echoed"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	// The file ties each datagram and its echo to the udp probe, and its
	// facts judge again as recorded.
	if _, e, code := nsdump("read", file, "--expect", "udp[probe=udp]:answered>=2", "--expect", "udp[probe=udp]:unanswered==0", "--expect", "udp[probe=none]:answered==0"); code != 0 {
		t.Errorf("read --expect: exit %d, %s", code, e)
	}
	out, e, code = nsdump("read", file, "--json")
	if code != 0 || !strings.Contains(out, `"kind": "udp"`) || strings.Contains(out, `"differs": true`) {
		t.Errorf("read --json: exit %d, %s; want the udp probes re-judged as recorded", code, e)
	}
}

// TestTraceDNSDockerEmbedded: a real dockerd of the test's own, two
// containers on a user network. A container's resolv.conf names Docker's
// embedded DNS, 127.0.0.11, which the engine's NAT rules in the
// container's namespace send to its resolver there: trace --dns of the
// other container's name, from the first, follows them and gets the
// other's address, by the container's own file, not the host's.
func TestTraceDNSDockerEmbedded(t *testing.T) {
	d := enginetest.StartDocker(t, "n3u")
	d.AskOnly(t)
	d.Docker("network", "create", "n3u-net")
	d.Run("n3u-web", "--network", "n3u-net")
	d.Run("n3u-db", "--network", "n3u-net")
	db := d.Docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "n3u-db")
	out, e, code := nsdump("trace", "docker:n3u-web", "docker:n3u-db", "--dns", "n3u-db", "--json", "--timeout", "3s")
	if code != 0 {
		t.Fatalf("trace --dns: exit %d: %s\n%s", code, e, out)
	}
	var res struct {
		Probes []struct {
			Direction, Kind, Cause, Detail string
			OK                             bool
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range res.Probes {
		if p.Kind != "dns" {
			continue
		}
		found = true
		t.Logf("%s dns: %s: %s", p.Direction, p.Cause, p.Detail)
		if !p.OK || p.Direction != "n3u-web->n3u-web" || !strings.Contains(p.Detail, "n3u-db. is "+db+", answered by nameserver 127.0.0.11 (/proc/") {
			t.Errorf("%s dns: ok=%v %s: %q; want ok, %s from 127.0.0.11 by the container's resolv.conf", p.Direction, p.OK, p.Cause, p.Detail, db)
		}
	}
	if !found {
		t.Errorf("no dns probe in %s", out)
	}
}
