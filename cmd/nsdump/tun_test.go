package main

import (
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// tunLab is a namespace of the test's own holding a tun device (ARPHRD_NONE:
// its frames are IP packets, no link header) with address 10.251.77.1/24 and
// no IPv6, and the device's file: what is written to it arrives on the
// device.
func tunLab(t *testing.T) (ns, dev string, tun *os.File) {
	t.Helper()
	l := labtest.Names(t, "lt")
	ns, dev = l.NS0, l.Veth0
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	// No IPv6 on the device: its router solicitations and MLD reports
	// would come and go among the echoes.
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.all.disable_ipv6=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v\n%s", err, out)
	}
	h, err := topology.OpenNamespace(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	// The device is made in the namespace of whoever opens /dev/net/tun.
	err = topology.Do(h, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(dev)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return err
		}
		tun = os.NewFile(uintptr(fd), "/dev/net/tun")
		return nil
	})
	if err != nil {
		t.Fatalf("tun device: %v", err)
	}
	t.Cleanup(func() { tun.Close() })
	for _, args := range [][]string{{"addr", "add", "10.251.77.1/24", "dev", dev}, {"link", "set", dev, "up"}} {
		if out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	return ns, dev, tun
}

// echoRequest is an IPv4 ICMP echo request from src to dst, checksums
// filled in.
func echoRequest(src, dst netip.Addr, seq uint16) []byte {
	b := make([]byte, 20+8+32)
	b[0], b[8], b[9] = 0x45, 64, 1 // version 4, IHL 5; ttl; ICMP
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	copy(b[12:16], src.AsSlice())
	copy(b[16:20], dst.AsSlice())
	binary.BigEndian.PutUint16(b[10:], inetChecksum(b[:20]))
	icmp := b[20:]
	icmp[0] = 8 // echo request
	binary.BigEndian.PutUint16(icmp[4:], 0x4c74)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	for i := range icmp[8:] {
		icmp[8+i] = byte(i)
	}
	binary.BigEndian.PutUint16(icmp[2:], inetChecksum(icmp))
	return b
}

func inetChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// TestCaptureTunIsRawIP: a tun device's frames are IP packets with no link
// header. nsdump records its capture point as LINKTYPE_RAW, as tcpdump does
// (not as Ethernet, which made tcpdump print IP bytes as MAC addresses),
// decodes its lines as IP, and compiles the filter for RAW: icmp passes the
// echoes, tcp none of them.
func TestCaptureTunIsRawIP(t *testing.T) {
	ns, dev, tun := tunLab(t)
	point := ns + "/" + dev
	file := filepath.Join(t.TempDir(), "tun.pcapng")
	// The kernel answers each request written to the device: In, then Out.
	toFile, _, fileErr := startCapture(t, point, "-w", file, "-c", "4")
	lines, linesOut, linesErr := startCapture(t, point, "-c", "4", "icmp")
	noTCP, noTCPOut, noTCPErr := startCapture(t, point, "tcp")
	peer, self := netip.MustParseAddr("10.251.77.2"), netip.MustParseAddr("10.251.77.1")
	for seq := uint16(1); seq <= 2; seq++ {
		if _, err := tun.Write(echoRequest(peer, self, seq)); err != nil {
			t.Fatalf("write to the tun device: %v", err)
		}
	}
	if err := ends(t, toFile); err != nil {
		t.Fatalf("capture -w: %v\n%s", err, fileErr)
	}
	if err := ends(t, lines); err != nil {
		t.Fatalf("capture icmp: %v\n%s", err, linesErr)
	}
	// Every frame has met the tcp socket's filter by now: the kernel runs
	// all the sockets' filters as it hands a frame on, before the others
	// could see it.
	noTCP.Process.Signal(syscall.SIGINT)
	if err := noTCP.Wait(); err != nil {
		t.Fatalf("capture tcp: %v\n%s", err, noTCPErr)
	}
	if out := noTCPOut.String(); out != "" || !strings.Contains(noTCPErr.String(), "0 packets captured, 0 received by filter") {
		t.Errorf("tcp on the tun device passed packets:\n%s%s", out, noTCPErr)
	}

	out, err := exec.Command("tcpdump", "-n", "-r", file).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	td := string(out)
	if !strings.Contains(td, "link-type RAW") || strings.Count(td, "IP 10.251.77.2 > 10.251.77.1: ICMP echo request, id 19572, seq ") != 2 ||
		strings.Count(td, "IP 10.251.77.1 > 10.251.77.2: ICMP echo reply, id 19572, seq ") != 2 {
		t.Errorf("tcpdump -r of the tun capture:\n%s", td)
	}
	for _, f := range tshark(t, file, "frame.interface_name", "_ws.col.Protocol") {
		if f != point+"\tICMP" {
			t.Errorf("tshark reads %q, want %q", f, point+"\tICMP")
		}
	}
	// nsdump's own lines say what tcpdump says of the same packets, decoded
	// as IP.
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(linesOut.String()), "\n") {
		if _, rest, ok := strings.Cut(l, " "+point+" "); ok {
			_, rest, _ = strings.Cut(rest, " ") // the direction
			got = append(got, rest)
		}
	}
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(td), "\n") {
		if _, rest, ok := strings.Cut(l, " IP "); ok {
			want = append(want, "IP "+rest)
		}
	}
	same := len(got) == len(want) && len(want) == 4
	for i := 0; same && i < len(want); i++ {
		same = want[i] == got[i]
	}
	if !same {
		t.Errorf("nsdump's lines of the tun device:\n%s\ntcpdump's:\n%s", linesOut, td)
	}
	if l := linesOut.String(); strings.Count(l, " In IP 10.251.77.2 > 10.251.77.1") != 2 || strings.Count(l, " Out IP 10.251.77.1 > 10.251.77.2") != 2 {
		t.Errorf("directions on the tun device:\n%s", l)
	}
}

// TestCaptureAllTun: capture --all meets the tun device among Ethernet
// interfaces: its point is RAW, the filter is compiled for each point's
// link type (icmp passes the echoes on the tun device), and nsdump warns
// that the file mixes link types.
func TestCaptureAllTun(t *testing.T) {
	ns, dev, tun := tunLab(t)
	point := ns + "/" + dev
	file := filepath.Join(t.TempDir(), "all.pcapng")
	// 10.251.77.2 is this test's: only the tun device's two echoes match.
	cmd, _, stderr := startCapture(t, "--all", "-B", "512", "-c", "2", "-w", file, "icmp", "and", "host", "10.251.77.2")
	// The warning names one point of each link type, the first it meets:
	// another package's tunnels (decode's tests run beside this one) may be
	// the RAW one named. That this point is RAW, tshark's reading of its
	// IP packets below shows.
	if w := stderr.String(); !strings.Contains(w, "mixes link types") || !strings.Contains(w, "RAW (") || !strings.Contains(w, point) {
		t.Errorf("capture --all with a tun device, no warning of mixed link types:\n%s", stderr)
	}
	if _, err := tun.Write(echoRequest(netip.MustParseAddr("10.251.77.2"), netip.MustParseAddr("10.251.77.1"), 1)); err != nil {
		t.Fatalf("write to the tun device: %v", err)
	}
	if err := ends(t, cmd); err != nil {
		t.Fatalf("capture --all: %v\n%s", err, stderr)
	}
	got := strings.Join(tshark(t, file, "frame.interface_name", "ip.src", "icmp.type"), "\n")
	if want := point + "\t10.251.77.2\t8\n" + point + "\t10.251.77.1\t0"; got != want {
		t.Errorf("tshark reads:\n%s\nwant:\n%s", got, want)
	}
}
