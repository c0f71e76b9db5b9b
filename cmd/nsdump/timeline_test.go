package main

import (
	"strings"
	"testing"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/trace"
)

// A healthy probe's line leaves out the kernel's drops (an echo reply's
// copy freed by ping_rcv is not news beside "ok"); a failing one keeps
// them, since there they are the evidence.
func TestTimelineDrops(t *testing.T) {
	seen := []decode.Sighting{
		{Point: "a/veth0", Dir: "Out", What: "request"},
		{Point: "b/veth1", Dir: "In", What: "request"},
		{Point: "b/veth1", Dir: "Out", What: "reply"},
		{Point: "a/veth0", Dir: "In", What: "reply"},
		{Point: "a/drops", Dir: "In", What: "reply", Drop: capture.Drop{Reason: "NO_SOCKET", Location: "ping_rcv"}},
	}
	ok := timeline(trace.Probe{OK: true, Seen: seen})
	if strings.Contains(ok, "drops") || !strings.HasSuffix(ok, "a/veth0 In reply") {
		t.Errorf("ok probe: %q, want the four wire sightings only", ok)
	}
	failed := timeline(trace.Probe{OK: false, Seen: seen})
	if !strings.Contains(failed, "a/drops In reply") {
		t.Errorf("failed probe: %q, want the drop kept", failed)
	}
	if got := timeline(trace.Probe{OK: true, Seen: seen[4:]}); got != "nothing on the wire" {
		t.Errorf("ok probe seen only as a drop: %q", got)
	}
}

// A failed probe's line says "no answer" only when nothing it lists
// answered: a reset or an ICMP error seen is an answer, a drop of the
// reply is not.
func TestTimelineNoAnswer(t *testing.T) {
	syn := decode.Sighting{Point: "a/veth0", Dir: "Out", What: "[S]", TCPFlags: decode.SYN}
	for _, tt := range []struct {
		name     string
		seen     []decode.Sighting
		noAnswer bool
	}{
		{"reset", []decode.Sighting{syn, {Point: "a/veth0", Dir: "In", What: "[R.]", TCPFlags: decode.RST | decode.ACK}}, false},
		{"icmp error", []decode.Sighting{{Point: "a/veth0", Dir: "Out", What: "request"}, {Point: "a/veth0", Dir: "In", What: "host prohibited"}}, false},
		{"icmp6 error", []decode.Sighting{{Point: "a/veth0", Dir: "Out", What: "request"}, {Point: "a/veth0", Dir: "In", What: "unreachable: no route"}}, false},
		{"syn only", []decode.Sighting{syn, syn}, true},
		{"reply dropped", []decode.Sighting{{Point: "a/veth0", Dir: "Out", What: "request"},
			{Point: "a/drops", Dir: "In", What: "reply", Drop: capture.Drop{Reason: "NETFILTER_DROP", Location: "nft_do_chain"}}}, true},
		{"arp unanswered", []decode.Sighting{{Point: "a/veth0", Dir: "Out", What: "who-has"}}, true},
	} {
		got := timeline(trace.Probe{Seen: tt.seen})
		if strings.HasSuffix(got, "no answer") != tt.noAnswer {
			t.Errorf("%s: %q, want \"no answer\" at the end: %v", tt.name, got, tt.noAnswer)
		}
	}
}
