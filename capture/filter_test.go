package capture

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/labtest"
	"golang.org/x/net/bpf"
)

var filterExprs = []string{
	"ip", "ip6", "arp", "rarp", "icmp", "icmp6", "tcp", "udp", "ether",
	"host 10.0.0.1", "src host 192.168.1.1", "dst host 10.0.0.2", "host 10.40.2.3",
	"src or dst host 131.151.32.21", "src and dst host 192.0.2.1",
	"net 10.0.0.0/8", "net 192.168", "src net 131.151.0.0/16", "dst net 10.40.0.0 mask 255.255.0.0",
	"port 53", "tcp port 80", "udp port 53", "src port 7000", "dst port 7001", "portrange 1-1024",
	"tcp portrange 20-25", "port 80 or 443", "tcp and not port 22", "icmp or arp", "not ip",
	"ether broadcast", "ether multicast", "ether src 74:83:ef:07:d0:a9", "ether dst ff:ff:ff:ff:ff:ff",
	"less 100", "greater 500", "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
	"tcp[13] == 2", "icmp[icmptype] == icmp-echo", "icmp[0] = 3", "ip[8] < 64", "ip[2:2] > 100", "udp[4:2] >= 100",
	"ip6 host fe80::dead", "host 2001:4860:8006::63", "src host 2620:0:e00:400e:d1d:db37:beb:5aac",
	"ip host 10.40.2.3 and (icmp or arp)", "udp and src port 67", "ip6 and icmp6", "arp host 10.0.0.1",
	"ip and not (tcp or udp)", "ip proto 17", "proto 58", "ip6 proto 17", "! arp && ! ip6 || port 7000",
	// issue 13's examples:
	"tcp or udp and port 53", "icmp or arp and host 10.20.9.9", "less 60", "greater 60", "net 10.0.0.0 mask 255.0.255.0",
	"host ::1", "net ::/0", "host ::ffff:1.2.3.4", "tcp port 7096", "vlan", "vlan 1 or ip", "mpls and ip", "pppoes and ip",
	"not tcp and port 22 or arp", "port 53 or 80 and not 443", "len - 14 > ip[2:2]",
	// issue 22: libpcap folds a constant index and wraps it at 32 bits.
	"ip[-1] = 0", "ip[4294967295] = 0", "ip[-1:2] = 0", "ip[-14:2] != 0", "tcp[-1] = 0", "ip[1-2] = 0",
	"ip[-(1)] = 0", "udp[-8:2] != 0", "ip[2*3-7] = 0", "tcp[-18:2] != 0",
	// libpcap refuses these too:
	"ether", "tcp host 10.0.0.1", "net 10.0.0.1/8", "portrange 5", "ip6 host 10.0.0.1", "port 99999",
}

func tcpdumpPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tcpdump")
	if err != nil {
		labtest.Unavailable(t, "needs tcpdump as the reference filter compiler: %v", err)
	}
	return p
}

// libpcapProgram compiles expr with tcpdump -ddd (libpcap's compiler) for
// frames of link type lt.
func libpcapProgram(t *testing.T, tcpdump string, expr string, lt LinkType) ([]bpf.Instruction, error) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty.pcap")
	h := binary.LittleEndian.AppendUint32(nil, pcapMagicMicro)
	h = binary.LittleEndian.AppendUint16(h, 2)
	h = binary.LittleEndian.AppendUint16(h, 4)
	h = binary.LittleEndian.AppendUint64(h, 0)
	h = binary.LittleEndian.AppendUint32(h, MaxSnapLen)
	h = binary.LittleEndian.AppendUint32(h, uint32(lt))
	if err := os.WriteFile(empty, h, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tcpdump, "-r", empty, "-ddd", expr).Output()
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var raw []bpf.RawInstruction
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("tcpdump -ddd line %q", l)
		}
		n := make([]uint64, 4)
		for i := range f {
			n[i], _ = strconv.ParseUint(f[i], 10, 32)
		}
		raw = append(raw, bpf.RawInstruction{Op: uint16(n[0]), Jt: uint8(n[1]), Jf: uint8(n[2]), K: uint32(n[3])})
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("cannot disassemble libpcap's program for %q", expr)
	}
	return insns, nil
}

// framesOf reads every frame of the given link type from the peer corpus
// and nsdump's own test captures; where[i] names frame i's file and its
// number there (from 1, as tcpdump and tshark count), so that a failure
// names a frame one can look at.
func framesOf(t *testing.T, lt LinkType) (frames [][]byte, where []string) {
	t.Helper()
	var files []string
	peer := labtest.PeerDir(t, "..")
	for _, dir := range []string{filepath.Join(peer, "tcpdump"), filepath.Join(peer, "zeek"), "../testdata/pcaps"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
		files = append(files, m...)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		r, err := NewReader(f)
		for n := 1; err == nil; n++ {
			var fr Frame
			if fr, err = r.Next(); err == nil && fr.LinkType == lt {
				frames = append(frames, append([]byte(nil), fr.Data...))
				where = append(where, filepath.Base(name)+" frame "+strconv.Itoa(n))
			}
		}
		f.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	return frames, where
}

// TestFilterAgainstLibpcap runs nsdump's program and libpcap's for each
// expression over every frame at hand; both must accept the same frames.
func TestFilterAgainstLibpcap(t *testing.T) {
	tcpdump := tcpdumpPath(t)
	for _, lt := range []LinkType{LinkEthernet, LinkSLL} {
		frames, where := framesOf(t, lt)
		if len(frames) < 20 {
			t.Fatalf("only %d frames of link type %d in the peer corpus and testdata/pcaps", len(frames), lt)
		}
		for _, expr := range filterExprs {
			t.Run(strconv.Itoa(int(lt))+"/"+expr, func(t *testing.T) {
				ours, err := CompileFilter(expr, lt)
				ref, refErr := libpcapProgram(t, tcpdump, expr, lt)
				if refErr != nil {
					if !errors.Is(err, ErrFilter) {
						t.Fatalf("libpcap refuses %q (%v); nsdump: %v, want ErrFilter", expr, refErr, err)
					}
					return
				}
				if lt != LinkEthernet && strings.HasPrefix(expr, "ether ") {
					if err == nil {
						t.Fatalf("ether qualifier compiled for link type %d", lt)
					}
					return
				}
				if err != nil || refErr != nil {
					t.Fatalf("nsdump: %v; libpcap: %v", err, refErr)
				}
				vm, err := bpf.NewVM(ref)
				if err != nil {
					t.Fatal(err)
				}
				accepted := 0
				for i, fr := range frames {
					n, _ := vm.Run(fr)
					if want := n > 0; ours.Match(fr) != want {
						t.Fatalf("frame %d, %s (%d bytes): nsdump %v, libpcap %v\nnsdump:\n%s", i, where[i], len(fr), !want, want, ours)
					}
					if n > 0 {
						accepted++
					}
				}
				t.Logf("%d of %d frames accepted by both", accepted, len(frames))
			})
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, expr := range []string{"host", "port 99999", "net 10.0.0.1/8", "tcp host", "(ip", "ip)", "host example.com",
		"port http", "tcp[1:3] == 1", "ip and", "ether host 1:2:3", "ip[0] ~ 1", "icmp6 host 10.0.0.1"} {
		if _, err := CompileFilter(expr, LinkEthernet); !errors.Is(err, ErrFilter) {
			t.Errorf("CompileFilter(%q) = %v, want ErrFilter", expr, err)
		}
	}
	if f, err := CompileFilter("", LinkEthernet); err != nil || f != nil || !f.Match([]byte{1}) {
		t.Errorf("empty filter: %v %v, want nil matching all", f, err)
	}
}
