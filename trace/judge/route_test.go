package judge

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
)

func TestJudgeWrongWay(t *testing.T) {
	base := wrongWay{ns: "A", to: "B", dst: netip.MustParseAddr("10.0.2.2"), subnet: netip.MustParsePrefix("10.0.2.0/24"),
		route: "10.0.2.2 dev wr0 src 10.77.0.1 uid 0", dev: "wr0", right: "veth0", resolution: "ARP"}
	tests := []struct {
		name   string
		change func(w *wrongWay)
		ok     bool
		detail []string
	}{
		{"ARP on the wrong veth", func(w *wrongWay) { w.askedOnDev, w.devLeads = true, "A/wr1" }, true,
			[]string{"leaves by wr0, which leads to A/wr1, not by veth0", "ARP for the next hop was seen leaving on wr0", "nothing arrived in B"}},
		{"left by a veth into nowhere known", func(w *wrongWay) { w.leftOnDev = 3 }, true,
			[]string{"leads to no namespace nsdump knows", "seen leaving on wr0 3 times"}},
		{"arrived anyway", func(w *wrongWay) { w.arrivedAtTo = true }, false, nil},
		{"the right interface", func(w *wrongWay) { w.dev = "veth0" }, false, nil},
		{"no interface faces B", func(w *wrongWay) { w.right = "" }, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := base
			tt.change(&w)
			cause, detail, fix, ok := judgeWrongWay(w)
			if ok != tt.ok {
				t.Fatalf("ok=%v, want %v (%s: %s)", ok, tt.ok, cause, detail)
			}
			if !ok {
				return
			}
			if cause != facts.CauseWrongRoute || fix != "ip -n A route replace 10.0.2.0/24 dev veth0" {
				t.Errorf("cause %q fix %q", cause, fix)
			}
			for _, d := range tt.detail {
				if !strings.Contains(detail, d) {
					t.Errorf("detail %q lacks %q", detail, d)
				}
			}
		})
	}
}
