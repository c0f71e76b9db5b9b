package decode

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// record copies the captures the live tests make into testdata/pcaps;
// `go test ./cmd/nsdump -run TestReadGolden -update` then writes their
// golden reports (scripts/record-decode-testdata.sh runs both).
var record = flag.Bool("record", false, "copy the live captures to testdata/pcaps")

var liveSeq atomic.Int32

// sh runs a command and fails the test with its output if it fails.
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// underlay builds two namespaces of this test's own (nsddc-...) joined by
// a veth pair, dcu0 (10.99.0.1, fd99::1) and dcu1 (10.99.0.2, fd99::2),
// removed when the test ends.
func underlay(t *testing.T) (a, b string) {
	t.Helper()
	labtest.RequireRoot(t)
	if _, err := exec.LookPath("tcpdump"); err != nil {
		labtest.Unavailable(t, "needs tcpdump: %v", err)
	}
	tag := fmt.Sprintf("%04x%02x", os.Getpid()&0xffff, liveSeq.Add(1)&0xff)
	a, b = "nsddc-u"+tag+"a", "nsddc-u"+tag+"b"
	for _, ns := range []string{a, b} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "link", "add", "dcu0", "netns", a, "type", "veth", "peer", "name", "dcu1", "netns", b)
	for i, ns := range []string{a, b} {
		dev := fmt.Sprintf("dcu%d", i)
		sh(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("10.99.0.%d/24", i+1), "dev", dev)
		sh(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("fd99::%d/64", i+1), "dev", dev, "nodad")
		sh(t, "ip", "-n", ns, "link", "set", dev, "up")
	}
	return a, b
}

// tcpdump is a capture running in a namespace until stop.
type tcpdump struct {
	cmd  *exec.Cmd
	file string
	done chan error
}

// startTcpdump starts `ip netns exec NS tcpdump -i IFACE -s SNAP -U -w`
// and returns once tcpdump says it is listening.
func startTcpdump(t *testing.T, ns, iface string, snap int, name string) *tcpdump {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("ip", "netns", "exec", ns, "tcpdump", "-i", iface, "-n", "-U", "-s", fmt.Sprint(snap), "-w", file)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tcpdump: %v", err)
	}
	td := &tcpdump{cmd: cmd, file: file, done: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), "listening on") {
				listening <- ""
				io.Copy(io.Discard, stderr)
				break
			}
		}
		listening <- strings.Join(lines, "\n")
		td.done <- cmd.Wait()
	}()
	t.Cleanup(func() { td.stop(t) })
	select {
	case msg := <-listening:
		if msg != "" || !td.running() {
			t.Fatalf("tcpdump did not start: %s", msg)
		}
	case <-time.After(30 * time.Second): // a failure bound, not a wait
		t.Fatal("tcpdump never said it was listening")
	}
	return td
}

func (td *tcpdump) running() bool { return td.cmd.ProcessState == nil }

// stop ends tcpdump with SIGINT, as a user does, so that it flushes.
func (td *tcpdump) stop(t *testing.T) {
	if td.cmd.Process == nil || td.done == nil {
		return
	}
	td.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-td.done:
	case <-time.After(30 * time.Second):
		td.cmd.Process.Kill()
		<-td.done
	}
	td.done = nil
}

// waitFor reads the growing capture until cond holds of its report, or
// fails after a generous bound: the packets are on the wire, tcpdump may
// not have written them yet.
func (td *tcpdump) waitFor(t *testing.T, what string, cond func(*Tracker) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if tr := readCapture(t, td.file, false); tr != nil && cond(tr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %s", td.file, what)
		}
		time.Sleep(20 * time.Millisecond) // polling a file that grows
	}
}

// readCapture reads a pcap file into a tracker; a file still being
// written may end in a cut packet, which is fine unless final.
func readCapture(t *testing.T, file string, final bool) *Tracker {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		if final {
			t.Fatal(err)
		}
		return nil
	}
	tr := NewTracker(nil)
	if err := ReadFile(bytes.NewReader(data), tr, nil, nil); err != nil && final {
		t.Fatalf("read %s: %v", file, err)
	}
	return tr
}

func keep(t *testing.T, file, name string) {
	if !*record {
		return
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "testdata", "pcaps", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func count(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func answered(tr *Tracker, kind ExchangeKind, src string) int {
	n := 0
	for _, ex := range tr.Exchanges() {
		if ex.Kind == kind && ex.Status == StatusAnswered && strings.HasPrefix(ex.Src, src) {
			n++
		}
	}
	return n
}

// inNamespace runs fn with its thread in the named namespace: sockets and
// devices fn opens stay there.
func inNamespace(t *testing.T, ns string, fn func() error) {
	t.Helper()
	h, err := topology.OpenNamespace(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := topology.Do(h, fn); err != nil {
		t.Fatal(err)
	}
}

// relay is a userspace tunnel end: what the kernel routes into a TUN or
// TAP device is wrapped and sent over a socket to the other end, what
// arrives is unwrapped and handed to the device. It stands in for the GRE,
// GENEVE and IPIP drivers that the test kernel lacks; the packets on the
// underlay are the kernel's own, sent through raw and UDP sockets.
type relay struct {
	dev    *os.File
	conn   net.PacketConn
	peer   net.Addr
	wrap   func([]byte) []byte
	unwrap func([]byte) []byte // nil: not a packet of this tunnel
	wg     sync.WaitGroup
}

func (r *relay) run(t *testing.T) {
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, err := r.dev.Read(buf)
			if err != nil {
				return
			}
			r.conn.WriteTo(r.wrap(buf[:n]), r.peer)
		}
	}()
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 65536)
		for {
			n, _, err := r.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if inner := r.unwrap(buf[:n]); inner != nil {
				r.dev.Write(inner)
			}
		}
	}()
	t.Cleanup(func() {
		r.dev.Close()
		r.conn.Close()
		r.wg.Wait()
	})
}

// openTun creates a TUN (or TAP) device in ns and returns its file.
func openTun(t *testing.T, ns, name string, tap bool) *os.File {
	t.Helper()
	var f *os.File
	inNamespace(t, ns, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		flags := uint16(unix.IFF_TUN)
		if tap {
			flags = unix.IFF_TAP
		}
		ifr.SetUint16(flags | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %s: %w", name, err)
		}
		f = os.NewFile(uintptr(fd), name)
		return nil
	})
	return f
}

// tunnelDev configures an inner device: IPv6 off (no router solicitations
// through the tunnel), an address, up.
func tunnelDev(t *testing.T, ns, dev, addr string) {
	t.Helper()
	sh(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf."+dev+".disable_ipv6=1")
	sh(t, "ip", "-n", ns, "addr", "add", addr, "dev", dev)
	sh(t, "ip", "-n", ns, "link", "set", dev, "up")
}

// userTunnel joins a and b with relays over network (ip4:47, ip4:4 or
// udp4 port 6081), inner addresses 10.20N.0.1 and .2.
func userTunnel(t *testing.T, a, b, network, dev string, tap bool, inner string, wrap func([]byte) []byte, unwrap func([]byte) []byte) {
	t.Helper()
	for i, ns := range []string{a, b} {
		local, remote := fmt.Sprintf("10.99.0.%d", i+1), fmt.Sprintf("10.99.0.%d", 2-i)
		d := openTun(t, ns, dev, tap)
		var conn net.PacketConn
		inNamespace(t, ns, func() (err error) {
			if strings.HasPrefix(network, "udp") {
				conn, err = net.ListenPacket(network, local+":6081")
			} else {
				conn, err = net.ListenPacket(network, local)
			}
			return err
		})
		var peer net.Addr = &net.IPAddr{IP: net.ParseIP(remote)}
		if strings.HasPrefix(network, "udp") {
			peer = &net.UDPAddr{IP: net.ParseIP(remote), Port: 6081}
		}
		(&relay{dev: d, conn: conn, peer: peer, wrap: wrap, unwrap: unwrap}).run(t)
		tunnelDev(t, ns, dev, fmt.Sprintf("%s.%d/24", inner, i+1))
	}
}

func ping(t *testing.T, ns string, args ...string) {
	t.Helper()
	sh(t, append([]string{"ip", "netns", "exec", ns, "ping", "-n", "-q", "-W", "5"}, args...)...)
}

// TestTunnelsLive builds VXLAN (the kernel's), GRE, GENEVE and IPIP (the
// relays above) between two namespaces, pings through each while tcpdump
// records the underlay, and checks that every inner echo is decoded,
// printed as outer: inner, and answered in the report, as tcpdump reads
// the same file.
func TestTunnelsLive(t *testing.T) {
	a, b := underlay(t)
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		labtest.Unavailable(t, "needs /dev/net/tun for the GRE, GENEVE and IPIP relays: %v", err)
	}
	for i, ns := range []string{a, b} {
		sh(t, "ip", "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789",
			"local", fmt.Sprintf("10.99.0.%d", i+1), "remote", fmt.Sprintf("10.99.0.%d", 2-i), "dev", fmt.Sprintf("dcu%d", i))
		tunnelDev(t, ns, "vx0", fmt.Sprintf("10.201.0.%d/24", i+1))
	}
	greHdr := []byte{0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7} // key 7, IPv4
	userTunnel(t, a, b, "ip4:47", "dcgre", false, "10.202.0",
		func(p []byte) []byte { return append(append([]byte{}, greHdr...), p...) },
		func(p []byte) []byte {
			if len(p) < 8 || !bytes.Equal(p[:8], greHdr) {
				return nil
			}
			return p[8:]
		})
	// GENEVE, VNI 77, one 8-byte option (class 0x0102, type 0x80), Ethernet inside.
	gnHdr := []byte{0x02, 0x00, 0x65, 0x58, 0, 0, 77, 0, 0x01, 0x02, 0x80, 0x01, 0, 0, 0, 1}
	userTunnel(t, a, b, "udp4", "dcgn", true, "10.203.0",
		func(p []byte) []byte { return append(append([]byte{}, gnHdr...), p...) },
		func(p []byte) []byte {
			if len(p) < len(gnHdr) || !bytes.Equal(p[:8], gnHdr[:8]) {
				return nil
			}
			return p[len(gnHdr):]
		})
	userTunnel(t, a, b, "ip4:4", "dcipip", false, "10.204.0",
		func(p []byte) []byte { return p },
		func(p []byte) []byte { return p })

	for _, tc := range []struct {
		file, inner, prefix, tcpdumpSays string
	}{
		{"tunnel-vxlan.pcap", "10.201.0", "VXLAN, flags [I] (0x08), vni 42\nIP 10.201.0.1 > 10.201.0.2: ICMP echo request", "VXLAN, flags [I] (0x08), vni 42 IP 10.201.0.1 > 10.201.0.2: ICMP echo request"},
		{"tunnel-gre.pcap", "10.202.0", "IP 10.99.0.1 > 10.99.0.2: GREv0, key=0x7, length 92: IP 10.202.0.1 > 10.202.0.2: ICMP echo request", "GREv0, key=0x7, length 92: IP 10.202.0.1 > 10.202.0.2: ICMP echo request"},
		{"tunnel-geneve.pcap", "10.203.0", "Geneve, Flags [none], vni 0x4d, options [8 bytes]: IP 10.203.0.1 > 10.203.0.2: ICMP echo request", "vni 0x4d, options [8 bytes]: IP 10.203.0.1 > 10.203.0.2: ICMP echo request"},
		{"tunnel-ipip.pcap", "10.204.0", "IP 10.99.0.1 > 10.99.0.2: IP 10.204.0.1 > 10.204.0.2: ICMP echo request", "IP 10.99.0.1 > 10.99.0.2: IP 10.204.0.1 > 10.204.0.2: ICMP echo request"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			td := startTcpdump(t, a, "dcu0", 0, tc.file)
			ping(t, a, "-c", "3", "-i", "0.2", tc.inner+".2")
			td.waitFor(t, "3 answered inner echoes", func(tr *Tracker) bool { return answered(tr, KindEcho, tc.inner+".1") >= 3 })
			td.stop(t)
			tr := readCapture(t, td.file, true)
			if n := answered(tr, KindEcho, tc.inner+".1"); n != 3 {
				t.Errorf("%d answered echoes from %s.1, want 3", n, tc.inner)
			}
			ours, theirs := packetLines(t, td.file), tcpdumpLines(t, td.file)
			if n := count(ours, tc.prefix); n != 3 {
				t.Errorf("%d lines contain %q, want 3:\n%s", n, tc.prefix, strings.Join(ours, "\n"))
			}
			if n := count(theirs, tc.tcpdumpSays); n != 3 {
				t.Errorf("tcpdump: %d lines contain %q, want 3:\n%s", n, tc.tcpdumpSays, strings.Join(theirs, "\n"))
			}
			if o, th := count(ours, "ICMP echo reply"), count(theirs, "ICMP echo reply"); o != th || o < 3 {
				t.Errorf("%d echo replies, tcpdump reads %d", o, th)
			}
			keep(t, td.file, tc.file)
		})
	}
}

// TestIPv6FragmentsLive pings with 3000-byte IPv6 echoes over a 1500-byte
// link: the kernel fragments them, first fragments carry the echo, later
// ones are marked, and every echo is answered.
func TestIPv6FragmentsLive(t *testing.T) {
	a, _ := underlay(t)
	td := startTcpdump(t, a, "dcu0", 0, "ipv6-fragments.pcap")
	ping(t, a, "-6", "-c", "2", "-i", "0.2", "-s", "3000", "fd99::2")
	td.waitFor(t, "2 answered echoes", func(tr *Tracker) bool { return answered(tr, KindEcho6, "fd99::1") >= 2 })
	td.stop(t)
	tr := readCapture(t, td.file, true)
	if n := answered(tr, KindEcho6, "fd99::1"); n != 2 {
		t.Errorf("%d answered echoes, want 2", n)
	}
	ours, theirs := packetLines(t, td.file), tcpdumpLines(t, td.file)
	if o, th := count(ours, "frag (")-count(ours, "frag (0|"), count(theirs, "frag (")-count(theirs, "frag (0|"); o != th || o < 4 {
		t.Errorf("%d later fragments, tcpdump reads %d:\n%s", o, th, strings.Join(ours, "\n"))
	}
	if o, th := count(ours, "ICMP6, echo"), count(theirs, "ICMP6, echo"); o != th || o != 4 {
		t.Errorf("%d first fragments with an echo, tcpdump reads %d", o, th)
	}
	keep(t, td.file, "ipv6-fragments.pcap")
}

// TestSnaplenLive records TCP connects on the lab with tcpdump -s 60 and
// -s 96: the SYNs' options are cut at 60 bytes, yet every connection is
// decoded and counts as established, as tcpdump still shows its ports,
// flags and sequence numbers.
func TestSnaplenLive(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		labtest.Unavailable(t, "needs tcpdump: %v", err)
	}
	l := labtest.New(t, "dc", true)
	server := netipString(l.Addr1.Addr().String(), 7096)
	var ln net.Listener
	inNamespace(t, l.NS1, func() (err error) {
		ln, err = net.Listen("tcp4", server)
		return err
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	caps := []*tcpdump{startTcpdump(t, l.NS1, l.Veth1, 60, "snaplen-60.pcap"), startTcpdump(t, l.NS1, l.Veth1, 96, "snaplen-96.pcap")}
	for i := 0; i < 3; i++ {
		var c net.Conn
		inNamespace(t, l.NS0, func() (err error) {
			c, err = net.DialTimeout("tcp4", server, 10*time.Second)
			return err
		})
		if _, err := c.Write([]byte("nsdump test message\n")); err != nil {
			t.Fatal(err)
		}
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		c.Close()
	}
	for _, td := range caps {
		td.waitFor(t, "3 connections closed", func(tr *Tracker) bool {
			n := 0
			for _, ex := range tr.Exchanges() {
				if ex.Kind == KindTCPConn && ex.Status == StatusEstablished && ex.Close != "" {
					n++
				}
			}
			return n >= 3
		})
		td.stop(t)
	}
	for i, td := range caps {
		name := filepath.Base(td.file)
		tr := readCapture(t, td.file, true)
		est := 0
		for _, ex := range tr.Exchanges() {
			if ex.Kind == KindTCPConn && ex.Status == StatusEstablished {
				est++
			}
		}
		if est != 3 {
			t.Errorf("%s: %d established connections, want 3", name, est)
		}
		ours, theirs := packetLines(t, td.file), tcpdumpLines(t, td.file)
		if o, th := count(ours, "Flags [S]"), count(theirs, "Flags [S]"); o != th || o != 3 {
			t.Errorf("%s: %d SYNs, tcpdump reads %d", name, o, th)
		}
		cut, theirCut := count(ours, "[|tcp]"), count(theirs, "[|tcp]")
		if cut != theirCut || (i == 0) != (cut > 0) {
			t.Errorf("%s: %d packets marked [|tcp], tcpdump marks %d:\n%s", name, cut, theirCut, strings.Join(ours, "\n"))
		}
		keep(t, td.file, name)
	}
}

func netipString(addr string, port int) string { return net.JoinHostPort(addr, fmt.Sprint(port)) }

// TestNFLOGLive records what nftables logs to group 5 with
// `tcpdump -i nflog:5` (LINKTYPE_NFLOG): the logged echoes are decoded and
// answered, as tcpdump reads them.
func TestNFLOGLive(t *testing.T) {
	a, _ := underlay(t)
	nft := func(args ...string) { sh(t, append([]string{"ip", "netns", "exec", a, "nft"}, args...)...) }
	nft("add", "table", "inet", "nsddc_log")
	nft("add", "chain", "inet", "nsddc_log", "out", "{ type filter hook output priority 0; }")
	nft("add", "rule", "inet", "nsddc_log", "out", "icmp", "type", "echo-request", "log", "group", "5")
	nft("add", "chain", "inet", "nsddc_log", "in", "{ type filter hook input priority 0; }")
	nft("add", "rule", "inet", "nsddc_log", "in", "icmp", "type", "echo-reply", "log", "group", "5")
	td := startTcpdump(t, a, "nflog:5", 0, "nflog.pcap")
	ping(t, a, "-c", "3", "-i", "0.2", "10.99.0.2")
	td.waitFor(t, "3 answered echoes", func(tr *Tracker) bool { return answered(tr, KindEcho, "10.99.0.1") >= 3 })
	td.stop(t)
	tr := readCapture(t, td.file, true)
	if n := answered(tr, KindEcho, "10.99.0.1"); n != 3 {
		t.Errorf("%d answered echoes, want 3", n)
	}
	ours, theirs := packetLines(t, td.file), tcpdumpLines(t, td.file)
	if len(ours) != len(theirs) || len(ours) != 6 {
		t.Fatalf("%d packets, tcpdump reads %d, want 6", len(ours), len(theirs))
	}
	for i := range ours {
		if essentials(ours[i]) != essentials(theirs[i]) || count(ours[i:i+1], "ICMP echo") != 1 {
			t.Errorf("packet %d: %q, tcpdump %q", i+1, ours[i], theirs[i])
		}
	}
	keep(t, td.file, "nflog.pcap")
}
