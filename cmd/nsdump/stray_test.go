package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/trace/facts"
)

// writeTraceFile crafts what trace -w writes for one echo probe A->B of 2
// echoes, 10 s apart (the first exchange finishes long before the facts,
// stored after the packets, are read): each reply also dropped at A's
// ping_rcv, one QUEUE_PURGE of no probe's packet, and facts that record
// the ping_rcv drops with stray as given. section is the file's section
// comment; facts false leaves the facts out.
func writeTraceFile(t *testing.T, section string, withFacts, stray bool) string {
	name := filepath.Join(t.TempDir(), "trace.pcapng")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	points := []capture.Point{{Name: "A/a0", LinkType: capture.LinkEthernet, SnapLen: 262144},
		{Name: "A/drops", LinkType: capture.LinkEthernet, SnapLen: 262144}}
	w, err := capture.NewNgWriter(f, points, section)
	if err != nil {
		t.Fatal(err)
	}
	echo := func(toB bool, typ uint8, seq uint16) []byte {
		e, ip := ether(macA, macB, layers.EthernetTypeIPv4), ip4(ipA, ipB, layers.IPProtocolICMPv4)
		if !toB {
			e, ip = ether(macB, macA, layers.EthernetTypeIPv4), ip4(ipB, ipA, layers.IPProtocolICMPv4)
		}
		return serialize(t, e, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 9, Seq: seq}, gopacket.Payload("ping"))
	}
	now := time.Unix(1_767_225_600, 0)
	put := func(after time.Duration, point int, dir capture.Direction, id uint64, data []byte, comment string) {
		now = now.Add(after)
		if err := w.WriteFrame(capture.Frame{Time: now, Point: point, Dir: dir, Len: len(data), Data: data, PacketID: id}, comment); err != nil {
			t.Fatal(err)
		}
	}
	const verdict = "A->B icmp-echo: ok in A"
	for seq := uint16(1); seq <= 2; seq++ {
		id := uint64(2 * seq)
		put(10*time.Second, 0, capture.DirOut, id-1, echo(true, 8, seq), verdict)
		put(time.Millisecond, 0, capture.DirIn, id, echo(false, 0, seq), verdict)
		put(time.Millisecond, 1, capture.DirIn, id, echo(false, 0, seq), "drop: NO_SOCKET at ping_rcv (a0)\n"+verdict)
	}
	put(time.Millisecond, 1, capture.DirIn, 9, make([]byte, 50), "drop: QUEUE_PURGE at skb_queue_purge_reason (no device)")
	if withFacts {
		rec := fmt.Sprintf(`{"nsdump_facts":1,"facts":{"probes":[{"direction":"A->B","kind":"icmp-echo","from":"A","to":"B",
"kernel_drops":[{"namespace":"A","reason":"NO_SOCKET","location":"ping_rcv","what":"echo reply","stray":%t},
{"namespace":"A","reason":"NO_SOCKET","location":"ping_rcv","what":"echo reply","stray":%t}]}]},"verdicts":[]}`, stray, stray)
		if err := w.WriteCustom(facts.FactsPEN, []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestReadTraceOwnDrops: read marks the drops a trace -w file's facts
// record as trace's own (and a QUEUE_PURGE of no probe's packet in a trace
// file), never as a fault of the path, and counts them apart; drops the
// facts record as the path's, and any drop in a file that is no trace's,
// stay the path's.
func TestReadTraceOwnDrops(t *testing.T) {
	const stamp = "nsdump trace\nA->B icmp-echo: ok in A"
	for _, tt := range []struct {
		name          string
		section       string
		facts, stray  bool
		strayDrops    int
		noteShown     bool // "the echo reply was dropped in A" on the report
		expect, wrong string
	}{
		{"facts say stray", stamp, true, true, 3, false, "drops[stray=true]==3", "drops[stray=false]>0"},
		{"facts say the path's", stamp, true, false, 1, true, "drops[stray=false,probe=icmp-echo]==2", "drops[stray=true,probe=any]>0"},
		{"no facts", stamp, false, false, 1, true, "drops[stray=true,probe=none]==1", "drops[stray=true,probe=icmp-echo]>0"},
		{"not a trace file", "captured by someone", true, true, 0, true, "drops[stray=true]==0", "drops[stray=false]!=3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := writeTraceFile(t, tt.section, tt.facts, tt.stray)
			out, _, code := nsdump("read", file, "--json")
			if code != 0 {
				t.Fatalf("read --json: exit %d", code)
			}
			var doc struct {
				Drops      int `json:"drops"`
				StrayDrops int `json:"stray_drops"`
				Exchanges  []struct {
					Seen []struct {
						Drop, Probe string
						Stray       bool
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Drops != 3 || doc.StrayDrops != tt.strayDrops {
				t.Errorf("drops %d, stray_drops %d; want 3, %d", doc.Drops, doc.StrayDrops, tt.strayDrops)
			}
			marked := 0
			for _, ex := range doc.Exchanges {
				for _, s := range ex.Seen {
					if s.Probe != "A->B icmp-echo" && tt.section == stamp {
						t.Errorf("sighting of probe %q, want \"A->B icmp-echo\"", s.Probe)
					}
					if s.Stray {
						marked++
					}
				}
			}
			if want := map[bool]int{true: 2}[tt.facts && tt.stray && tt.section == stamp]; marked != want {
				t.Errorf("%d sightings marked stray, want %d (both echo exchanges, the first finished before the facts were read)", marked, want)
			}
			text, _, _ := nsdump("read", file)
			if shown := strings.Contains(text, "echo reply was dropped in A"); shown != tt.noteShown {
				t.Errorf("note of the drop shown: %v, want %v:\n%s", shown, tt.noteShown, text)
			}
			if own := strings.Contains(text, fmt.Sprintf("3 kernel drops, %d of them trace's own, not the path's", tt.strayDrops)); own != (tt.strayDrops > 0) {
				t.Errorf("count of trace's own drops shown: %v, want %v:\n%s", own, tt.strayDrops > 0, text)
			}
			expectRun{[]string{"--expect", tt.expect}, 0, ""}.check(t, file)
			expectRun{[]string{"--expect", tt.wrong}, 1, "expectation failed"}.check(t, file)
		})
	}
}

// TestReadExpectProbeSelectors: probe= and drops[...] selectors, and the
// combinations refused because they could never match (exit 2).
func TestReadExpectProbeSelectors(t *testing.T) {
	file := "../../testdata/pcaps/refused.pcapng"
	for _, tt := range []expectRun{
		{[]string{"--expect", "icmp-echo[probe=icmp-echo]:answered==4"}, 0, ""},
		{[]string{"--expect", "icmp-echo[probe=mtu]:answered==4"}, 0, ""},
		{[]string{"--expect", "icmp-echo[probe=any]:answered==8"}, 0, ""},
		{[]string{"--expect", "icmp-echo[probe=none]:answered==0"}, 0, ""},
		{[]string{"--expect", "arp[probe=none]:answered==1"}, 0, ""},
		{[]string{"--expect", "tcp[probe=tcp,dst=192.168.50.1:7]:refused==1"}, 0, ""},
		{[]string{"--expect", "drops[probe=tcp,stray=false]==2", "--expect", "drops[probe=mtu,stray=true]==4", "--expect", "drops[stray=true]==10"}, 0, ""},
		{[]string{"--expect", "icmp-echo[probe=mtu]:answered==8"}, 1, "expected == 8, got 4"},
		{[]string{"--expect", "tcp[probe=mtu]:refused==0"}, 2, "tcp exchanges are never of a mtu probe"},
		{[]string{"--expect", "arp[probe=icmp-echo]:answered==0"}, 2, "arp exchanges are never of a icmp-echo probe"},
		{[]string{"--expect", "icmp-echo[probe=tcp]:answered==0"}, 2, "never of a tcp probe"},
		{[]string{"--expect", "icmp-echo[probe=mtu,probe=mtu]:answered==0"}, 2, "probe= given twice"},
		{[]string{"--expect", "icmp-echo[probe=sctp]:answered==0"}, 2, "want probe=icmp-echo|icmp6-echo|tcp|udp|dns|mtu|any|none"},
		{[]string{"--expect", "icmp-echo[probe=udp]:answered==0"}, 2, "icmp-echo exchanges are never of a udp probe"},
		{[]string{"--expect", "udp[probe=dns]:answered==0"}, 2, "udp exchanges are never of a dns probe"},
		{[]string{"--expect", "dns[probe=none,dst=192.168.50.1:53]:answered==0"}, 0, ""},
		{[]string{"--expect", "drops[own=false]==0"}, 2, "drops take stray=true|false and probe=PROBE"},
		{[]string{"--expect", "drops[stray=1]==0"}, 2, "want stray=true or stray=false"},
		{[]string{"--expect", "drops[stray=true,stray=false]==0"}, 2, "stray= given twice"},
		{[]string{"--expect", "drops[stray=true==0"}, 2, "lacks its closing ]"},
		{[]string{"--expect", "packets[probe=mtu]==0"}, 2, "packets take no selector"},
	} {
		tt.check(t, file)
	}
}
