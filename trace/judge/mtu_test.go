package judge

import (
	"strings"
	"testing"

	"github.com/nsdump/nsdump/trace/facts"
)

func TestJudgeMTU(t *testing.T) {
	base := mtuFacts{ns: "A", to: "B", dev: "veth0", mtu: 1500, peerNS: "B", peer: "veth1", peerMTU: 1500, sent: 3, handed: 3, small: true, lastSeen: "A"}
	tests := []struct {
		name       string
		change     func(m *mtuFacts)
		judged, ok bool
		cause      facts.Cause
		ns         string
		fix        string
		detailHas  string
	}{
		{"all answered", func(m *mtuFacts) { m.got = 3 }, true, true, facts.CauseOK, "A", "", "3/3 replies to 1500-byte echo requests with DF from A on veth0"},
		{"the small echo failed too: its verdict covers it", func(m *mtuFacts) { m.small = false }, false, false, "", "", "", ""},
		{"the sender's end larger", func(m *mtuFacts) { m.mtu = 9000 }, true, false, facts.CauseMTU, "A", "ip -n A link set veth0 mtu 1500", "A/veth0 has 9000, B/veth1 has 1500"},
		{"the peer's end larger", func(m *mtuFacts) { m.peerMTU = 9000 }, true, false, facts.CauseMTU, "B", "ip -n B link set veth1 mtu 1500", "B/veth1 has 9000"},
		{"frag-needed reached the sender", func(m *mtuFacts) { m.pathMTU, m.errFrom = 1400, "ICMP type 3 code 4 from 10.0.0.1" }, true, true, facts.CauseOK, "A", "", "path MTU 1400"},
		{"path MTU known from before: the socket refuses", func(m *mtuFacts) { m.handed, m.cached, m.sendErr = 0, 1280, "message too long" }, true, true, facts.CauseOK, "A", "", "path MTU 1280: A's route to B holds it"},
		{"black hole", func(m *mtuFacts) { m.lastSeen, m.tooBig = "R", "10.0.0.1 sent frag-needed" }, true, false, facts.CauseMTU, "R", "", "(a path-MTU black hole); 10.0.0.1 sent frag-needed, which never reached A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := base
			tt.change(&m)
			p, judged := judgeMTU(m)
			if judged != tt.judged {
				t.Fatalf("judged=%v, want %v: %+v", judged, tt.judged, p)
			}
			if !judged {
				return
			}
			if p.OK != tt.ok || p.Cause != tt.cause || p.Namespace != tt.ns || p.Fix != tt.fix || !strings.Contains(p.Detail, tt.detailHas) {
				t.Errorf("ok=%v %s in %s fix %q detail %q; want ok=%v %s in %s fix %q detail with %q", p.OK, p.Cause, p.Namespace, p.Fix, p.Detail, tt.ok, tt.cause, tt.ns, tt.fix, tt.detailHas)
			}
		})
	}
}
