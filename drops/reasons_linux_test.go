package drops

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
)

// Each case breaks the lab one way, provokes traffic from A to B and
// expects the kernel's reason for the drop, in the namespace where it
// happens. Reasons and locations are what Linux 6.18 reports.
func TestKernelReasons(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(t *testing.T, l lab)
		provoke  func(l lab)
		reason   string
		location string // "" when it varies
		inB      bool   // the drop happens in B, else in A
		iface    func(l lab) string
		// received: the packet came in on B's veth from A's, and the drop
		// carries that frame's Ethernet header; else it has none (the
		// kernel dropped it before any device framed it).
		received bool
	}{{
		name: "nftables drop",
		setup: func(t *testing.T, l lab) {
			sh(t, l.NS1, "nft", "add table inet drt; add chain inet drt in { type filter hook input priority 0; policy accept; }; add rule inet drt in icmp type echo-request drop")
		},
		provoke:  func(l lab) { try(l.NS0, "ping", "-c1", "-W0.2", addr(l.Addr1)) },
		reason:   "NETFILTER_DROP",
		location: "nft_do_chain",
		inB:      true,
		iface:    func(l lab) string { return l.Veth1 },
		received: true,
	}, {
		name: "rp_filter",
		setup: func(t *testing.T, l lab) {
			// A source B has no route back to: strict rp_filter refuses it.
			sh(t, "", "ip", "-n", l.NS0, "addr", "add", "10.251.0.1/32", "dev", l.Veth0)
			sh(t, l.NS1, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf."+l.Veth1+".rp_filter=1")
			// B does not answer ARP from that source either: tell A B's address.
			mac := strings.TrimSpace(sh(t, l.NS1, "cat", "/sys/class/net/"+l.Veth1+"/address"))
			sh(t, "", "ip", "-n", l.NS0, "neigh", "replace", addr(l.Addr1), "lladdr", mac, "dev", l.Veth0, "nud", "permanent")
		},
		provoke:  func(l lab) { try(l.NS0, "ping", "-c1", "-W0.2", "-I", "10.251.0.1", addr(l.Addr1)) },
		reason:   "IP_RPFILTER",
		location: "ip_rcv_finish_core",
		inB:      true,
		iface:    func(l lab) string { return l.Veth1 },
		received: true,
	}, {
		name:     "no UDP listener",
		provoke:  func(l lab) { try(l.NS0, "bash", "-c", fmt.Sprintf("echo x > /dev/udp/%s/7", addr(l.Addr1))) },
		reason:   "NO_SOCKET",
		location: "__udp4_lib_rcv",
		inB:      true,
		iface:    func(l lab) string { return l.Veth1 },
		received: true,
	}, {
		name:     "no TCP listener",
		provoke:  func(l lab) { try(l.NS0, "bash", "-c", fmt.Sprintf("echo x > /dev/tcp/%s/9", addr(l.Addr1))) },
		reason:   "NO_SOCKET",
		location: "tcp_v4_rcv",
		inB:      true,
		iface:    func(l lab) string { return l.Veth1 },
		received: true,
	}, {
		name: "unreachable neighbour",
		setup: func(t *testing.T, l lab) {
			// Give up on ARP after one unanswered request.
			sh(t, l.NS0, "sysctl", "-qw", "net.ipv4.neigh."+l.Veth0+".mcast_solicit=1", "net.ipv4.neigh."+l.Veth0+".retrans_time_ms=100")
		},
		provoke:  func(l lab) { try(l.NS0, "ping", "-c1", "-W0.5", l.Addr0.Masked().Addr().Next().Next().Next().String()) },
		reason:   "NEIGH_FAILED",
		location: "neigh_invalidate",
		iface:    func(l lab) string { return l.Veth0 },
	}, {
		name:     "TTL expiry",
		setup:    func(t *testing.T, l lab) { beyondB(t, l, true) },
		provoke:  func(l lab) { try(l.NS0, "ping", "-c1", "-W0.2", "-t1", "10.252.0.1") },
		reason:   "IP_INHDR",
		location: "ip_forward",
		inB:      true,
		iface:    func(l lab) string { return l.Veth1 },
		received: true,
	}, {
		name:    "forwarding disabled",
		setup:   func(t *testing.T, l lab) { beyondB(t, l, false) },
		provoke: func(l lab) { try(l.NS0, "ping", "-c1", "-W0.2", "10.252.0.1") },
		// Linux 6.18 names a packet to forward with forwarding off an
		// address error: ip_route_input_slow gives -EHOSTUNREACH and
		// ip_error counts it as IPSTATS_MIB_INADDRERRORS.
		reason:   "IP_INADDRERRORS",
		location: "ip_error",
		inB:      true,
		iface:    func(l lab) string { return l.Veth1 },
		received: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			if tc.setup != nil {
				tc.setup(t, l)
			}
			_, c := watch(t, l.inoA, l.inoB)
			ns := l.inoA
			if tc.inB {
				ns = l.inoB
			}
			d := await(t, c, func() { tc.provoke(l) }, func(d *Drop) bool { return d.Reason == tc.reason && d.Netns == ns })
			if tc.location != "" && d.Location != tc.location {
				t.Errorf("location %s, want %s", d.Location, tc.location)
			}
			if want := tc.iface(l); d.Iface != want {
				t.Errorf("interface %q, want %q", d.Iface, want)
			}
			if d.Protocol != EtherIPv4 || len(d.Data) < 20 || d.Data[0]>>4 != 4 {
				t.Errorf("packet: protocol %#x, %d bytes % x", d.Protocol, len(d.Data), d.Data)
			}
			checkMAC(t, l, d, tc.received)
			onlyFrom(t, c, l.inoA, l.inoB)
			t.Logf("%s in %d: %s", tc.name, d.Netns, d.Comment())
		})
	}
}

// beyondB gives B a network behind it (10.252.0.0/24 on a veth pair of
// its own) and A a route there through B, with forwarding on or off in B.
func beyondB(t *testing.T, l lab, forward bool) {
	sh(t, "", "ip", "-n", l.NS1, "link", "add", "drx0", "type", "veth", "peer", "name", "drx1")
	sh(t, "", "ip", "-n", l.NS1, "addr", "add", "10.252.0.254/24", "dev", "drx0")
	sh(t, "", "ip", "-n", l.NS1, "link", "set", "drx0", "up")
	sh(t, "", "ip", "-n", l.NS1, "link", "set", "drx1", "up")
	sh(t, "", "ip", "-n", l.NS0, "route", "add", "10.252.0.0/24", "via", addr(l.Addr1), "dev", l.Veth0, "onlink")
	v := "0"
	if forward {
		v = "1"
	}
	sh(t, l.NS1, "sysctl", "-qw", "net.ipv4.ip_forward="+v)
}

// TestInKernelFilter: drops in a namespace nobody watches never reach the
// monitor, while the watched one's do.
func TestInKernelFilter(t *testing.T) {
	watched, other := newLab(t), newLab(t)
	_, c := watch(t, watched.inoB)
	await(t, c, func() {
		try(other.NS0, "bash", "-c", fmt.Sprintf("echo x > /dev/udp/%s/7", addr(other.Addr1)))
		try(watched.NS0, "bash", "-c", fmt.Sprintf("echo x > /dev/udp/%s/7", addr(watched.Addr1)))
	}, func(d *Drop) bool { return d.Reason == "NO_SOCKET" })
	onlyFrom(t, c, watched.inoB)
}

// checkMAC checks the Ethernet header a drop carries: the frame's own,
// from A's veth to B's, when it was received; none when the kernel
// dropped the packet before a device framed it.
func checkMAC(t *testing.T, l lab, d Drop, received bool) {
	t.Helper()
	if !received {
		if d.MAC != nil {
			t.Errorf("an Ethernet header % x on a packet no device framed", d.MAC)
		}
		return
	}
	src, err := net.ParseMAC(strings.TrimSpace(sh(t, l.NS0, "cat", "/sys/class/net/"+l.Veth0+"/address")))
	if err != nil {
		t.Fatal(err)
	}
	dst, err := net.ParseMAC(strings.TrimSpace(sh(t, l.NS1, "cat", "/sys/class/net/"+l.Veth1+"/address")))
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte(nil), dst...), src...), byte(d.Protocol>>8), byte(d.Protocol))
	if !bytes.Equal(d.MAC, want) {
		t.Errorf("Ethernet header % x, want the frame's own % x", d.MAC, want)
	}
}
