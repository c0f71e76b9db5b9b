package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
)

// TestReadEscapesNames: interface names and comments in a file carry ESC,
// BEL, CR and LF; every text output shows them as tcpdump would ("^[",
// "^G", "^M", "^J") and never hands a raw control byte to the terminal.
func TestReadEscapesNames(t *testing.T) {
	evil := "ns\x1b]0;pwned\x07\x1b[2J/if\r\n12:00:00.000000 forged"
	file := filepath.Join(t.TempDir(), "evil.pcapng")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	points := []capture.Point{{Name: evil, LinkType: capture.LinkEthernet}, {Name: evil + "2", LinkType: capture.LinkEthernet}}
	w, err := capture.NewNgWriter(f, points, "comment \x1b]0;pwned\x07\r\n")
	if err != nil {
		t.Fatal(err)
	}
	// IP 10.0.1.0 > 10.0.2.0: ICMP echo request, id 4660, seq 1, seen at both points
	echo, _ := hex.DecodeString("0000000000020000000000010800" + "45000024000040004001245f0a0001000a000200" + "0800e5cb12340001" + "6e73647570696e67")
	for i := range points {
		if err := w.WriteFrame(capture.Frame{Time: time.Unix(1, int64(i)), Point: i, LinkType: capture.LinkEthernet, Len: len(echo), Data: echo}, "epb \x1b[31m\x07\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, args := range [][]string{{"read", file}, {"read", file, "--packets"}} {
		out, errOut, code := nsdump(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errOut)
		}
		for _, s := range []string{out, errOut} {
			if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }); i >= 0 {
				t.Errorf("%v prints a raw control byte %q:\n%q", args, s[i], s)
			}
		}
		if !strings.Contains(out, "ns^[]0;pwned^G^[[2J/if^M^J12:00:00.000000 forged") {
			t.Errorf("%v does not show the name escaped:\n%s", args, out)
		}
		// The file's section comment (where trace -w keeps its verdicts)
		// is shown after the report, escaped too.
		if !strings.Contains(out, "recorded in "+file+":\n  comment ^[]0;pwned^G^M\n") {
			t.Errorf("%v does not show the section comment escaped:\n%s", args, out)
		}
	}
	out, _, code := nsdump("read", file, "--json")
	var doc struct {
		Recorded []struct{ File, Comment string } `json:"recorded"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || len(doc.Recorded) != 1 || doc.Recorded[0].Comment != "comment \x1b]0;pwned\x07\r\n" || doc.Recorded[0].File != file {
		t.Errorf("read --json: exit %d, %v, recorded %+v", code, err, doc.Recorded)
	}
}

// TestReadEscapesDropComments: the kernel's reason on an NS/drops packet
// comes from the file like any comment: ESC, BEL and CR in it are shown
// escaped, and of a comment trace -w wrote ("drop: ..." then a line with
// the verdict) only the first line is the drop, in text and in --json.
func TestReadEscapesDropComments(t *testing.T) {
	file := filepath.Join(t.TempDir(), "drops.pcapng")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	points := []capture.Point{{Name: "hzB/hzb0", LinkType: capture.LinkEthernet}, {Name: "hzB/drops", LinkType: capture.LinkEthernet}}
	w, err := capture.NewNgWriter(f, points, "")
	if err != nil {
		t.Fatal(err)
	}
	// IP 10.0.1.0 > 10.0.2.0: ICMP echo request, id 4660, seq 1
	echo, _ := hex.DecodeString("0000000000020000000000010800" + "45000024000040004001245f0a0001000a000200" + "0800e5cb12340001" + "6e73647570696e67")
	comments := []string{"", "drop: NO_SOCKET\x1b]0;pwned\x07 at ping_rcv\r (hzb0)\x1b[2J\nhzA->hzB icmp-echo: ok in hzA"}
	for i := range points {
		if err := w.WriteFrame(capture.Frame{Time: time.Unix(1, int64(i)), Point: i, LinkType: capture.LinkEthernet, Len: len(echo), Data: echo}, comments[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, errOut, code := nsdump("read", file)
	if code != 0 {
		t.Fatalf("read: exit %d %s", code, errOut)
	}
	if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }); i >= 0 {
		t.Errorf("read prints a raw control byte %q:\n%q", out[i], out)
	}
	if want := "was dropped in hzB: NO_SOCKET^[]0;pwned^G at ping_rcv^M (hzb0)^[[2J;"; !strings.Contains(out, want) {
		t.Errorf("read does not show %q:\n%s", want, out)
	}
	if strings.Contains(out, "ok in hzA") {
		t.Errorf("read shows the comment's verdict line as the drop:\n%s", out)
	}
	js, _, _ := nsdump("read", "--json", file)
	var doc struct {
		Exchanges []struct {
			Seen []struct {
				Drop string `json:"drop"`
			} `json:"seen"`
		} `json:"exchanges"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil || len(doc.Exchanges) != 1 || len(doc.Exchanges[0].Seen) != 2 {
		t.Fatalf("read --json: %v\n%s", err, js)
	}
	if got, want := doc.Exchanges[0].Seen[1].Drop, "NO_SOCKET\x1b]0;pwned\x07 at ping_rcv\r (hzb0)\x1b[2J"; got != want {
		t.Errorf("--json drop %q, want %q (the first line only)", got, want)
	}
}
