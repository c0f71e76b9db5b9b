package cmdline_test

import (
	"bytes"
	"errors"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/internal/shellwords"
)

// hostile are names a file or a user may give, each meant to run something
// once pasted.
var hostile = []string{"hzA; touch x", "$(touch x)", "`touch x`", "a'b", "it's'; touch x; '", "new\nline", "a;id", "b$(id)", "*", "~root", "#c", "a b", "", "-n", `a\`, `"q"`, "{a,b}"}

// TestQuoteRoundTrip renders commands holding hostile words and reads them
// back twice: with the test's strict tokenizer, and with /bin/sh itself,
// which must see exactly the words given.
func TestQuoteRoundTrip(t *testing.T) {
	for _, name := range hostile {
		t.Run(name, func(t *testing.T) {
			c := cmdline.IP(name, "link", "set", name, "up")
			line := c.String()
			got, err := shellwords.Check(line)
			if err != nil || len(got) != 1 || !slices.Equal(got[0], c) {
				t.Fatalf("%q read back as %q, %v; want %q", line, got, err, []string(c))
			}
			out, err := exec.Command("sh", "-c", "set -- "+line+"; printf '%s\\000' \"$@\"").Output()
			if err != nil {
				t.Fatalf("sh on %q: %v", line, err)
			}
			if words := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"); !slices.Equal(words, c) {
				t.Errorf("sh read %q as %q, want %q", line, words, []string(c))
			}
		})
	}
}

// TestOrdinaryUnquoted keeps ordinary commands as a user types them.
func TestOrdinaryUnquoted(t *testing.T) {
	for c, want := range map[string]string{
		cmdline.IP("vnet0", "-6", "route", "replace", "fd00:2::/64", "dev", "veth0").String():          "ip -n vnet0 -6 route replace fd00:2::/64 dev veth0",
		cmdline.Route("vnet1", "add", netip.MustParsePrefix("10.0.1.0/24"), "veth1").String():          "ip -n vnet1 route add 10.0.1.0/24 dev veth1",
		cmdline.IP("pid:42", "link").String():                                                          "nsenter -t 42 -n ip link",
		cmdline.IP("/run/x/netns/y", "link").String():                                                  "nsenter --net=/run/x/netns/y ip link",
		cmdline.InNamespace("r1", "sysctl", "-w", "net.ipv4.conf.all.rp_filter=0").String():            "ip netns exec r1 sysctl -w net.ipv4.conf.all.rp_filter=0",
		cmdline.InNamespace("b", "nft", "chain inet t in { policy accept; }").String():                 "ip netns exec b nft 'chain inet t in { policy accept; }'",
		cmdline.Join(cmdline.IP("a", "link"), nil, cmdline.InNamespace("b", "nc", "-l", "80")):         "ip -n a link && ip netns exec b nc -l 80",
		cmdline.Command{"ip", "netns", "add", "nsdpa;id"}.String() + " " + cmdline.Quote("nsdpb$(id)"): "ip netns add 'nsdpa;id' 'nsdpb$(id)'",
	} {
		if c != want {
			t.Errorf("got %q, want %q", c, want)
		}
	}
}

// TestNftName takes what nft's scanner reads as one identifier and
// refuses the rest; nft itself (--check: nothing reaches the kernel) must
// agree: no syntax error for a name taken, one for each name refused.
func TestNftName(t *testing.T) {
	nft, err := exec.LookPath("nft")
	if err != nil {
		t.Fatalf("nft: %v", err)
	}
	for _, tt := range []struct {
		name string
		ok   bool
	}{{"filter", true}, {"nsdump_td", true}, {"a-b/c.d", true}, {"_x", true}, {".x", true},
		{"a b", false}, {"a;b", false}, {"$x", false}, {"@s", false}, {"1x", false}, {"a'b", false}, {`a"b`, false}, {"{x}", false}, {"", false}} {
		err := cmdline.NftName(tt.name)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, cmdline.ErrName)) {
			t.Errorf("NftName(%q): %v, want ok %v", tt.name, err, tt.ok)
		}
		if tt.name == "" {
			continue
		}
		out, _ := exec.Command(nft, "--check", "add chain inet nsdpa_none "+tt.name).CombinedOutput()
		if syntax := bytes.Contains(out, []byte("syntax error")); syntax == tt.ok {
			t.Errorf("nft on chain name %q: %s; NftName says ok %v", tt.name, out, tt.ok)
		}
	}
	if cmdline.NftName(strings.Repeat("x", 256)) == nil {
		t.Error("NftName takes a 256-byte name")
	}
}

func TestIptablesNames(t *testing.T) {
	for _, ok := range []string{"INPUT", "my-chain", "a;b"} {
		if err := cmdline.IptablesChain(ok); err != nil {
			t.Errorf("IptablesChain(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-j", "a b", "a\nb", strings.Repeat("c", 29)} {
		if err := cmdline.IptablesChain(bad); !errors.Is(err, cmdline.ErrName) {
			t.Errorf("IptablesChain(%q): %v, want ErrName", bad, err)
		}
	}
	if cmdline.IptablesTable("filter") != nil || cmdline.IptablesTable("filter; id") == nil {
		t.Error("IptablesTable takes filter and refuses the rest")
	}
}

// TestShowAs: a container's namespace, shown by the container's name,
// is entered by a process of it, and only while the command holds it.
func TestShowAs(t *testing.T) {
	if !cmdline.IsNamed("web") || cmdline.IsNamed("docker:web") || cmdline.IsNamed("pod:shop/cart") || !cmdline.IsNamed("dockerish:x") {
		t.Errorf("IsNamed of container targets: web %v, docker:web %v, pod:shop/cart %v, dockerish:x %v",
			cmdline.IsNamed("web"), cmdline.IsNamed("docker:web"), cmdline.IsNamed("pod:shop/cart"), cmdline.IsNamed("dockerish:x"))
	}
	undo := cmdline.ShowAs("web", 4242)
	undoPod := cmdline.ShowAs("pod:shop/cart", 4343)
	for _, tc := range []struct{ got, want string }{
		{cmdline.IP("web", "link", "set", "eth0", "up").String(), "nsenter -t 4242 -n ip link set eth0 up"},
		{cmdline.InNamespace("pod:shop/cart", "sysctl", "-w", "net.ipv4.ip_forward=1").String(), "nsenter -t 4343 -n sysctl -w net.ipv4.ip_forward=1"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if cmdline.IsNamed("web") {
		t.Error("cmdline.IsNamed(web) while web is shown as a container")
	}
	undo()
	undoPod()
	if got := cmdline.IP("web", "link").String(); got != "ip -n web link" {
		t.Errorf("after undo: %q, want ip -n web link", got)
	}
}

// TestShowContainer: a Docker container's namespace is entered by the pid
// dockerd gives when the command runs, the one word left to the shell;
// the same word from anywhere else, or any near miss, is quoted.
func TestShowContainer(t *testing.T) {
	undo, err := cmdline.ShowContainer("web", "docker", "web-1")
	if err != nil {
		t.Fatal(err)
	}
	got := cmdline.IP("web", "route", "replace", "10.0.0.0/24", "dev", "eth0").String()
	want := `nsenter -t "$(docker inspect -f '{{.State.Pid}}' web-1)" -n ip route replace 10.0.0.0/24 dev eth0`
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	undo()
	if got := cmdline.IP("web", "link").String(); got != "ip -n web link" {
		t.Errorf("after undo: %q", got)
	}
	for _, bad := range [][2]string{{"docker", "we b"}, {"docker", "$(id)"}, {"ctr", "web"}, {"docker", "-web"}} {
		if _, err := cmdline.ShowContainer("x", bad[0], bad[1]); !errors.Is(err, cmdline.ErrName) {
			t.Errorf("ShowContainer(%q, %q): %v, want ErrName", bad[0], bad[1], err)
		}
	}
	for _, w := range []string{`"$(docker inspect -f '{{.State.Pid}}' web;id)"`, `"$(sh inspect -f '{{.State.Pid}}' web)"`, `"$(docker inspect -f '{{.State.Pid}}' web)"x`} {
		if got := (cmdline.Command{"echo", w}).String(); got == "echo "+w {
			t.Errorf("%q left unquoted", w)
		}
	}
}
