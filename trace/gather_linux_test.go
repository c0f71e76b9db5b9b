package trace

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/trace/facts"
)

// TestGatherRulesGap: without nft, a namespace's nftables rules are a gap
// that says why, not an empty list (which read as "no rule to blame");
// with it, there is no gap.
func TestGatherRulesGap(t *testing.T) {
	u := labtest.NewUnnamed(t)
	if _, gaps := gatherRules(nil, u.Spec()); len(gaps) != 0 {
		t.Fatalf("with nft: gaps %+v, want none", gaps)
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		labtest.Unavailable(t, "needs nsenter: %v", err)
	}
	dir := t.TempDir()
	if err := os.Symlink(nsenter, filepath.Join(dir, "nsenter")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir) // nsenter, and no nft
	rules, gaps := gatherRules(nil, u.Spec())
	if len(rules) != 0 || len(gaps) != 1 {
		t.Fatalf("without nft: %d rules, gaps %+v; want one gap", len(rules), gaps)
	}
	g := gaps[0]
	if g.What != facts.GapNftables || g.Namespace != u.Spec() || !strings.Contains(g.Error, "nft") {
		t.Errorf("gap %+v, want nftables rules in %s naming nft", g, u.Spec())
	}
	if s := g.String(); !strings.HasPrefix(s, "could not list nftables rules in "+u.Spec()+": ") {
		t.Errorf("gap reads %q", s)
	}
	t.Logf("%s", g)
}
