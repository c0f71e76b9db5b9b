package trace

import (
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/trace/facts"
)

// TestNeighborSeenListsResolutions: a neighbor-unreachable probe's
// sightings hold the unanswered ARP requests asked on its path, in time
// order among its own packets, without frame numbers; a resolution in a
// namespace off the path, or one that was answered, is left out.
func TestNeighborSeenListsResolutions(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	seen := []decode.Sighting{
		{Point: "A/drops", Dir: "Out", What: "request", Time: at(5), Frame: 9},
	}
	asked := &decode.Exchange{Kind: decode.KindARPRes, Status: decode.StatusUnanswered, Seen: []decode.Sighting{
		{Point: "A/a0", Dir: "Out", What: "who-has", Time: at(1), Frame: 1},
		{Point: "A/a0", Dir: "Out", What: "who-has", Time: at(10), Frame: 2},
	}}
	offPath := &decode.Exchange{Kind: decode.KindARPRes, Status: decode.StatusUnanswered, Seen: []decode.Sighting{
		{Point: "C/c0", Dir: "Out", What: "who-has", Time: at(2), Frame: 3},
	}}
	answered := &decode.Exchange{Kind: decode.KindNDP, Status: decode.StatusAnswered, Seen: []decode.Sighting{
		{Point: "B/b0", Dir: "Out", What: "neighbor solicitation", Time: at(3), Frame: 4},
	}}
	pf := facts.ProbeFacts{From: "A", To: "B", Path: []facts.Hop{{Namespace: "A"}, {Namespace: "B"}}}
	got := withResolutions(seen, []*decode.Exchange{asked, offPath, answered}, pf)
	var steps []string
	for _, s := range got {
		steps = append(steps, s.Point+" "+s.What)
		if s.What == "who-has" && s.Frame != 0 {
			t.Errorf("%s %s keeps frame %d", s.Point, s.What, s.Frame)
		}
	}
	if want := "A/a0 who-has, A/drops request, A/a0 who-has"; strings.Join(steps, ", ") != want {
		t.Errorf("seen %q, want %q", strings.Join(steps, ", "), want)
	}
	if len(seen) != 1 {
		t.Errorf("the probe's own sightings were changed: %d", len(seen))
	}
}
