package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/capture"
	"github.com/nsdump/nsdump/contrib/wireshark"
	"github.com/nsdump/nsdump/internal/labtest"
)

var pluginPath = filepath.Join("..", "..", "contrib", "wireshark", "nsdump.lua")

// needTool skips a test without the tool, or fails it in CI.
func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		labtest.Unavailable(t, "%s is not installed", tool)
	}
}

// runTool runs a reference tool and returns its standard output; it fails
// the test when the tool fails or says anything on stderr but where it
// reads from and that it runs as root.
func runTool(t *testing.T, file string, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || toolStderr(stderr.String(), file) != "" {
		t.Fatalf("%s %s: %v, stderr %q", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// fieldRows runs tshark with the plugin (or without, plugin false) and
// returns one row of fields per record, filtered by display filter (""
// for all).
func fieldRows(t *testing.T, file string, plugin bool, filter string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-r", file, "-T", "fields", "-E", "separator=|"}
	if plugin {
		args = append(args, "-X", "lua_script:"+pluginPath)
	}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(runTool(t, file, "tshark", args...), "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "|"))
		}
	}
	return rows
}

// fileFrame is one packet of a file as nsdump's reader gives it.
type fileFrame struct {
	number  int // as tshark numbers it, from 1
	point   string
	time    time.Time
	comment string
	id      uint64
}

func readFrames(t *testing.T, file string) ([]capture.Point, []fileFrame, []capture.Frame) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []fileFrame
	var raw []capture.Frame
	for {
		fr, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Points(), out, raw
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fileFrame{number: len(out) + 1, point: r.Points()[fr.Point].Name, time: fr.Time, comment: fr.Comment, id: fr.PacketID})
		fr.Data = bytes.Clone(fr.Data)
		raw = append(raw, fr)
	}
}

// TestWiresharkFieldsOnFailingTrace: a trace -w of a path whose B drops
// echo requests with an nftables rule, read by tshark with the plugin:
// nsdump.drop.reason == "NETFILTER_DROP" selects exactly the packets the
// file records as dropped by netfilter; frame.packet_id groups exactly
// the sightings read joins when it matches them itself; the verdicts tree
// is there; and without the plugin tcpdump and tshark read every packet.
func TestWiresharkFieldsOnFailingTrace(t *testing.T) {
	needTool(t, "tshark")
	needTool(t, "tcpdump")
	l := labtest.New(t, "ws", true)
	rule := "add table inet wst; add chain inet wst in { type filter hook input priority 0; policy accept; }; add rule inet wst in icmp type echo-request drop"
	sh(t, "ip", "netns", "exec", l.NS1, "nft", rule)
	file := filepath.Join(t.TempDir(), "trace.pcapng")
	out, e, code := nsdump("trace", l.NS0, l.NS1, "--count", "2", "--timeout", "500ms", "-w", file, "--json")
	if code != 1 {
		t.Fatalf("trace: exit %d, want 1 (a probe fails)\n%s", code, e)
	}
	var res struct {
		Probes []struct {
			Direction, Kind, Cause, Namespace string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	_, frames, _ := readFrames(t, file)

	t.Run("drop reason", func(t *testing.T) {
		var want []string
		for _, f := range frames {
			if f.point == l.NS1+"/drops" && strings.HasPrefix(f.comment, "drop: NETFILTER_DROP at ") {
				want = append(want, strconv.Itoa(f.number))
			}
		}
		var got []string
		for _, row := range fieldRows(t, file, true, `nsdump.drop.reason == "NETFILTER_DROP"`, "frame.number", "icmp.type", "nsdump.drop.location", "nsdump.verdict.cause", "nsdump.verdict.namespace") {
			got = append(got, row[0])
			if row[1] != "8" || row[2] != "nft_do_chain" || row[3] != "dropped" || row[4] != l.NS1 {
				t.Errorf("frame %s: icmp type %s, location %q, verdict %q in %q; want an echo request dropped at nft_do_chain, verdict dropped in %s", row[0], row[1], row[2], row[3], row[4], l.NS1)
			}
		}
		if len(want) < 2 || strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("nsdump.drop.reason == NETFILTER_DROP selects frames %v; the file's netfilter drops are %v (at least 2)", got, want)
		}
	})

	t.Run("packet ids", func(t *testing.T) {
		ids := map[int]string{} // frame number -> tshark's frame.packet_id
		for _, row := range fieldRows(t, file, true, "frame.interface_name", "frame.number", "frame.packet_id", "nsdump.point", "frame.interface_name") {
			n, _ := strconv.Atoi(row[0])
			if row[1] == "" || row[2] != row[3] {
				t.Errorf("frame %s: packet id %q, nsdump.point %q for interface %q", row[0], row[1], row[2], row[3])
			}
			ids[n] = row[1]
		}
		if len(ids) != len(frames) {
			t.Fatalf("tshark lists %d packets with an interface, the file holds %d", len(ids), len(frames))
		}
		// read joins a file's own ids; stripped of them, it matches the
		// sightings itself: both must give tshark's grouping.
		checkReadGroups(t, file, frames, ids, "with ids")
		checkReadGroups(t, stripIDs(t, file), frames, ids, "ids stripped")
	})

	t.Run("verdicts tree", func(t *testing.T) {
		text := runTool(t, file, "tshark", "-r", file, "-X", "lua_script:"+pluginPath, "-V")
		if i := strings.Index(text, "Lua Error"); i >= 0 {
			t.Fatalf("the plugin failed: %.300s", text[i:])
		}
		if want := fmt.Sprintf("    Verdicts (%d)\n", len(res.Probes)); !strings.Contains(text, want) {
			t.Errorf("no %q in the facts block's tree:\n%.3000s", want, text)
		}
		for _, p := range res.Probes {
			line := fmt.Sprintf("%s %s: %s in %s", p.Direction, p.Kind, p.Cause, p.Namespace)
			if !strings.Contains(text, line) {
				t.Errorf("the facts block's tree lacks the verdict %q", line)
			}
		}
		if !strings.Contains(text, "    Facts\n") || !strings.Contains(text, "namespace: "+l.NS1) {
			t.Errorf("the facts block's tree lacks the facts")
		}
	})

	t.Run("without the plugin", func(t *testing.T) {
		if n := strings.Count(runTool(t, file, "tcpdump", "-nn", "-r", file), "\n"); n != len(frames) {
			t.Errorf("tcpdump lists %d packets, the file holds %d", n, len(frames))
		}
		if n := len(fieldRows(t, file, false, "frame.interface_name", "frame.number")); n != len(frames) {
			t.Errorf("tshark lists %d packets, the file holds %d", n, len(frames))
		}
		desc := fieldRows(t, file, false, "frame.interface_name == \""+l.NS0+"/"+l.Veth0+"\"", "frame.interface_description")
		want := fmt.Sprintf("namespace %s (inode ", l.NS0)
		if len(desc) == 0 || !strings.HasPrefix(desc[0][0], want) || !strings.HasSuffix(desc[0][0], ", veth peer "+l.NS1+"/"+l.Veth1) {
			t.Errorf("interface description %q, want %q... with the veth peer", desc, want)
		}
	})
}

// checkReadGroups: the sightings `nsdump read --json` of file lists are
// grouped by their packet_id exactly as tshark's frame.packet_id (ids, by
// frame number of the original file) groups the same frames.
func checkReadGroups(t *testing.T, file string, frames []fileFrame, ids map[int]string, what string) {
	t.Helper()
	out, e, code := nsdump("read", file, "--json")
	if code != 0 {
		t.Fatalf("read %s: exit %d\n%s", what, code, e)
	}
	var rep struct {
		Exchanges []struct {
			Seen []struct {
				Point    string    `json:"point"`
				Time     time.Time `json:"time"`
				PacketID uint64    `json:"packet_id"`
			} `json:"seen"`
		} `json:"exchanges"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	number := map[string]int{}
	for _, f := range frames {
		number[f.point+"@"+f.time.Format(time.RFC3339Nano)] = f.number
	}
	byRead := map[uint64][]int{}
	listed := 0
	for _, ex := range rep.Exchanges {
		for _, s := range ex.Seen {
			n, ok := number[s.Point+"@"+s.Time.Format(time.RFC3339Nano)]
			if !ok || s.PacketID == 0 {
				t.Fatalf("read %s lists a sighting at %s %s (packet id %d) that is no frame of the file", what, s.Point, s.Time, s.PacketID)
			}
			byRead[s.PacketID] = append(byRead[s.PacketID], n)
			listed++
		}
	}
	if listed < 20 {
		t.Fatalf("read %s lists %d sightings; a two-way trace has dozens", what, listed)
	}
	for id, group := range byRead {
		// Every frame read put in one packet has one tshark id, and no
		// frame read listed under another id has it.
		want := ids[group[0]]
		for _, n := range group {
			if ids[n] != want {
				t.Errorf("read %s: packet %d holds frames %v, whose packet ids are not all %s", what, id, group, want)
			}
		}
		for other, g := range byRead {
			if other != id && ids[g[0]] == want {
				sort.Ints(g)
				t.Errorf("read %s: frames %v and %v are apart, though both have packet id %s", what, group, g, want)
			}
		}
	}
}

// stripIDs writes file again without packet ids, for read to match the
// sightings itself.
func stripIDs(t *testing.T, file string) string {
	t.Helper()
	points, _, raw := readFrames(t, file)
	var buf bytes.Buffer
	w, err := capture.NewNgWriter(&buf, points, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range raw {
		if f.PacketID == 0 {
			t.Fatalf("a frame without a packet id in %s", file)
		}
		f.PacketID = 0
		if err := w.WriteFrame(f, f.Comment); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "stripped.pcapng")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCaptureDropsCarryPacketID: in `capture --drops -w`, the kernel's
// drop of an echo request carries the packet id of that request where it
// was seen, leaving A and entering B; each request has an id of its own.
func TestCaptureDropsCarryPacketID(t *testing.T) {
	needTool(t, "tshark")
	ns0, ns1, v0, v1, a1 := dropLab(t)
	file := filepath.Join(t.TempDir(), "drops.pcapng")
	cmd, _, stderr := startCapture(t, ns0, ns1, "--drops", "-w", file)
	exec.Command("ip", "netns", "exec", ns0, "ping", "-c3", "-i0.2", "-W0.3", a1).Run()
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture: %v\n%s", err, stderr)
	}
	journeys := map[string][]string{} // packet id -> "point seq"
	for _, row := range fieldRows(t, file, false, "icmp.type == 8", "frame.packet_id", "frame.interface_name", "icmp.seq") {
		journeys[row[0]] = append(journeys[row[0]], row[1]+" "+row[2])
	}
	drops := 0
	for id, j := range journeys {
		if len(j) != 3 {
			t.Errorf("packet %s seen %v; want leaving %s/%s, entering %s/%s and dropped in %s", id, j, ns0, v0, ns1, v1, ns1)
			continue
		}
		// The drop monitor's record may be written before the frames the
		// capture's merge holds back a little: the order is not the point.
		sort.Strings(j)
		seq := strings.Fields(j[0])[1]
		want := []string{ns0 + "/" + v0 + " " + seq, ns1 + "/" + v1 + " " + seq, ns1 + "/drops " + seq}
		sort.Strings(want)
		if strings.Join(j, ",") != strings.Join(want, ",") {
			t.Errorf("packet %s seen %v, want %v", id, j, want)
		}
		drops++
	}
	if drops != 3 {
		t.Errorf("%d echo requests followed to their drop, want 3: %v", drops, journeys)
	}
}

// TestReadOtherWritersPacketIDs: a file another tool wrote (a pcapng
// built here, big-endian, ids in epb_packetid) is read by its ids: two
// sightings of a request whose source a NAT rewrote between them (bytes
// read could never match) are one packet, and the same reply bytes at
// two points under two ids are two packets.
func TestReadOtherWritersPacketIDs(t *testing.T) {
	b := pcapngBE{}
	b.section()
	b.iface("outside", "lan side")
	b.iface("inside", "")
	t0 := uint64(1700000000) * 1e6 // microseconds, pcapng's default resolution
	req := echo4(false, [4]byte{10, 0, 0, 2}, [4]byte{10, 9, 0, 1}, 64)
	natted := echo4(false, [4]byte{192, 0, 2, 7}, [4]byte{10, 9, 0, 1}, 63)
	rep := echo4(true, [4]byte{10, 9, 0, 1}, [4]byte{192, 0, 2, 7}, 64)
	b.packet(0, t0, req, 501)
	b.packet(1, t0+1, natted, 501)
	b.packet(1, t0+2, rep, 502)
	b.packet(0, t0+3, rep, 503)
	file := filepath.Join(t.TempDir(), "other.pcapng")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("tshark"); err == nil {
		rows := fieldRows(t, file, false, "", "frame.packet_id")
		if len(rows) != 4 || rows[0][0] != "501" || rows[1][0] != "501" || rows[3][0] != "503" {
			t.Fatalf("tshark reads the built file's packet ids as %v", rows)
		}
	}
	out, e, code := nsdump("read", file, "--json")
	if code != 0 {
		t.Fatalf("read: exit %d\n%s", code, e)
	}
	var rep2 struct {
		Packets   int `json:"packets"`
		Exchanges []struct {
			Kind string `json:"kind"`
			Seen []struct {
				PacketID uint64 `json:"packet_id"`
			} `json:"seen"`
		} `json:"exchanges"`
	}
	if err := json.Unmarshal([]byte(out), &rep2); err != nil {
		t.Fatal(err)
	}
	if rep2.Packets != 3 {
		t.Errorf("read counts %d packets, want 3 (ids 501 twice, 502, 503)\n%s", rep2.Packets, out)
	}
	var seen []string
	for _, ex := range rep2.Exchanges {
		for _, s := range ex.Seen {
			seen = append(seen, strconv.FormatUint(s.PacketID, 10))
		}
	}
	// Matched by their bytes, the request and its translation would be
	// two packets and the reply at both points one.
	if got := strings.Join(seen, ","); got != "501,501,502,503" {
		t.Errorf("sightings' packet ids %s, want 501,501,502,503 (the request's two sightings in its exchange)\n%s", got, out)
	}
}

// pcapngBE builds a big-endian pcapng file as another writer would:
// microsecond timestamps (no if_tsresol), ids in epb_packetid.
type pcapngBE struct{ bytes.Buffer }

func (b *pcapngBE) block(typ uint32, body []byte) {
	var h [8]byte
	total := uint32(12 + len(body))
	putBE32(h[:], typ)
	putBE32(h[4:], total)
	b.Write(h[:])
	b.Write(body)
	b.Write(h[4:8])
}

func putBE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

func be32(v uint32) []byte { b := make([]byte, 4); putBE32(b, v); return b }

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func beOpt(code uint16, v []byte) []byte {
	o := append(be16(code), be16(uint16(len(v)))...)
	o = append(o, v...)
	for len(o)%4 != 0 {
		o = append(o, 0)
	}
	return o
}

func (b *pcapngBE) section() {
	body := append(be32(0x1A2B3C4D), 0, 1, 0, 0)
	body = append(body, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	body = append(body, beOpt(4, []byte("another writer"))...)
	b.block(0x0A0D0D0A, append(body, 0, 0, 0, 0))
}

func (b *pcapngBE) iface(name, desc string) {
	body := append(be16(1), 0, 0)
	body = append(body, be32(65535)...)
	body = append(body, beOpt(2, []byte(name))...)
	if desc != "" {
		body = append(body, beOpt(3, []byte(desc))...)
	}
	b.block(1, append(body, 0, 0, 0, 0))
}

func (b *pcapngBE) packet(ifc uint32, us uint64, data []byte, id uint64) {
	body := be32(ifc)
	body = append(body, be32(uint32(us>>32))...)
	body = append(body, be32(uint32(us))...)
	body = append(body, be32(uint32(len(data)))...)
	body = append(body, be32(uint32(len(data)))...)
	body = append(body, data...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	idb := append(be32(uint32(id>>32)), be32(uint32(id))...)
	body = append(body, beOpt(5, idb)...)
	b.block(6, append(body, 0, 0, 0, 0))
}

// echo4 is an Ethernet frame with a 84-byte IPv4 echo request or reply,
// id 0x4242 seq 1.
func echo4(reply bool, src, dst [4]byte, ttl byte) []byte {
	f := make([]byte, 14+84)
	f[12] = 0x08
	ip := f[14:]
	ip[0], ip[3], ip[5], ip[8], ip[9] = 0x45, 84, 7, ttl, 1
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	if !reply {
		ip[20] = 8
	}
	ip[24], ip[25], ip[27] = 0x42, 0x42, 1
	return f
}

// TestPluginCommand: `nsdump wireshark-plugin` prints the plugin as the
// repository keeps it, --path says where --install puts it, and --install
// writes it there (under a home of the test's own).
func TestPluginCommand(t *testing.T) {
	repo, err := os.ReadFile(pluginPath)
	if err != nil {
		t.Fatal(err)
	}
	if out, e, code := nsdump("wireshark-plugin"); code != 0 || out != string(repo) || !bytes.Equal(wireshark.Plugin, repo) {
		t.Fatalf("wireshark-plugin: exit %d, %d bytes (the repository's: %d)\n%s", code, len(out), len(repo), e)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	want := filepath.Join(home, ".local", "lib", "wireshark", "plugins", "nsdump.lua")
	if out, _, code := nsdump("wireshark-plugin", "--path"); code != 0 || out != want+"\n" {
		t.Errorf("--path: exit %d, %q; want %q", code, out, want)
	}
	if _, err := os.Stat(want); err == nil {
		t.Fatalf("--path wrote %s", want)
	}
	if out, e, code := nsdump("wireshark-plugin", "--install"); code != 0 || out != want+"\n" {
		t.Fatalf("--install: exit %d, %q %s; want %q", code, out, e, want)
	}
	if got, err := os.ReadFile(want); err != nil || !bytes.Equal(got, repo) {
		t.Errorf("--install wrote %d bytes (%v), want the plugin's %d", len(got), err, len(repo))
	}
	for _, args := range [][]string{{"wireshark-plugin", "--install", "--path"}, {"wireshark-plugin", "extra"}} {
		if _, e, code := nsdump(args...); code != 2 || strings.Count(e, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, e)
		}
	}
}

// TestPluginOnRecordedFiles: the plugin dissects every pcapng file under
// testdata, nsdump's and other tools', without a Lua error, and tshark
// reads each as it does without it (some of the peer corpus' files are
// ones tshark refuses).
func TestPluginOnRecordedFiles(t *testing.T) {
	needTool(t, "tshark")
	var files []string
	filepath.WalkDir(filepath.Join("..", "..", "testdata"), func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".pcapng") {
			files = append(files, path)
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("%d pcapng files under testdata", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cmd := exec.Command("tshark", "-r", file, "-X", "lua_script:"+pluginPath, "-V")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if i := strings.Index(stdout.String(), "Lua Error"); i >= 0 {
				t.Fatalf("the plugin failed: %.300s", stdout.String()[i:])
			}
			if err == nil && toolStderr(stderr.String(), file) == "" {
				return
			}
			plain := exec.Command("tshark", "-r", file, "-V")
			var plainErr bytes.Buffer
			plain.Stdout, plain.Stderr = io.Discard, &plainErr
			perr := plain.Run()
			if fmt.Sprint(err) != fmt.Sprint(perr) || stderr.String() != plainErr.String() {
				t.Fatalf("with the plugin tshark says %v, %q; without, %v, %q", err, stderr.String(), perr, plainErr.String())
			}
		})
	}
}
