package topology

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nsdump/nsdump/topology/nsstate"
	"golang.org/x/sys/unix"
)

var confV4Keys = []string{"forwarding", "rp_filter", "accept_local", "arp_ignore", "arp_filter", "arp_accept", "proxy_arp"}

// ReadSettings reads the sysctls of Settings in ns, for the interfaces
// named (every interface of the namespace when none is). The files are
// opened by a thread inside the namespace, through Do: /proc/sys/net
// resolves to the namespace of the task that opens it, whoever reads it.
func ReadSettings(ns Held, ifaces ...string) (*nsstate.Settings, error) {
	if len(ifaces) == 0 {
		names, err := linkNames(ns)
		if err != nil {
			return nil, ns.unreadable("sysctls", err)
		}
		ifaces = names
	}
	for _, name := range ifaces {
		if err := ValidateInterface(name); err != nil {
			return nil, err
		}
	}
	paths := settingsPaths(ifaces)
	vals, err := readSysctls(ns, paths)
	if err != nil {
		return nil, ns.unreadable("sysctls", err)
	}
	v := func(p string) int { return vals[p] }
	conf := func(dir string) nsstate.ConfV4 {
		k := func(key string) int { return v("ipv4/conf/" + dir + "/" + key) }
		return nsstate.ConfV4{Forwarding: k("forwarding"), RPFilter: k("rp_filter"), AcceptLocal: k("accept_local"), ARPIgnore: k("arp_ignore"),
			ARPFilter: k("arp_filter"), ARPAccept: k("arp_accept"), ProxyARP: k("proxy_arp")}
	}
	s := &nsstate.Settings{
		Namespace: ns.Name, IPForward: v("ipv4/ip_forward"), IPv6Forwarding: v("ipv6/conf/all/forwarding"),
		ICMPEchoIgnoreAll: v("ipv4/icmp_echo_ignore_all"), ICMPEchoIgnoreBroadcast: v("ipv4/icmp_echo_ignore_broadcasts"),
		ICMPv6EchoIgnoreAll: v("ipv6/icmp/echo_ignore_all"), All: conf("all"), Default: conf("default"),
	}
	for _, name := range ifaces {
		s.Interfaces = append(s.Interfaces, nsstate.IfaceSettings{Name: name, IPv4: conf(name), IPv6Forwarding: v("ipv6/conf/" + name + "/forwarding")})
	}
	if ipt := v("bridge/bridge-nf-call-iptables"); ipt >= 0 {
		s.BridgeNF = &nsstate.BridgeNF{CallIPTables: ipt, CallIP6Tables: v("bridge/bridge-nf-call-ip6tables"), CallARPTables: v("bridge/bridge-nf-call-arptables")}
	}
	return s, nil
}

func settingsPaths(ifaces []string) []string {
	p := []string{"ipv4/ip_forward", "ipv6/conf/all/forwarding", "ipv4/icmp_echo_ignore_all",
		"ipv4/icmp_echo_ignore_broadcasts", "ipv6/icmp/echo_ignore_all",
		"bridge/bridge-nf-call-iptables", "bridge/bridge-nf-call-ip6tables", "bridge/bridge-nf-call-arptables"}
	for _, dir := range append([]string{"all", "default"}, ifaces...) {
		for _, k := range confV4Keys {
			p = append(p, "ipv4/conf/"+dir+"/"+k)
		}
		p = append(p, "ipv6/conf/"+dir+"/forwarding")
	}
	return p
}

// readSysctls opens /proc/sys/net/PATH for every path inside ns in one
// switch, then reads them outside it. A file the kernel does not offer
// (no IPv6, no br_netfilter, an interface gone) reads -1.
func readSysctls(ns Held, paths []string) (map[string]int, error) {
	fds := make([]int, len(paths))
	err := Do(ns.Handle, func() error {
		for i, p := range paths {
			fd, err := unix.Open("/proc/sys/net/"+p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil && !errors.Is(err, unix.ENOENT) {
				for _, fd := range fds[:i] {
					unix.Close(fd)
				}
				return fmt.Errorf("open /proc/sys/net/%s: %w", p, err)
			}
			if err != nil {
				fd = -1
			}
			fds[i] = fd
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(paths))
	var first error
	for i, p := range paths {
		out[p] = -1
		if fds[i] < 0 {
			continue
		}
		n, err := readIntFile(fds[i], p)
		if err != nil && first == nil {
			first = err
		}
		out[p] = n
	}
	return out, first
}

func readIntFile(fd int, p string) (int, error) {
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	b := make([]byte, 64)
	n, err := f.Read(b)
	if err != nil {
		return -1, fmt.Errorf("read /proc/sys/net/%s: %w", p, err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		return -1, fmt.Errorf("read /proc/sys/net/%s: %q is not a number", p, clipWord(b[:n]))
	}
	return v, nil
}

// linkNames lists the namespace's interfaces by name.
func linkNames(ns Held) ([]string, error) {
	nh, err := ns.netlinkHandle()
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	links, err := nh.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := make([]string, 0, len(links))
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	return names, nil
}
