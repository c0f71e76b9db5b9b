package nsstate

// ConfV4 is one net.ipv4.conf.NAME directory (NAME an interface, "all" or
// "default"). A value the kernel does not offer reads -1.
type ConfV4 struct {
	Forwarding  int `json:"forwarding"`
	RPFilter    int `json:"rp_filter"` // 0 off, 1 strict, 2 loose
	AcceptLocal int `json:"accept_local"`
	ARPIgnore   int `json:"arp_ignore"`
	ARPFilter   int `json:"arp_filter"`
	ARPAccept   int `json:"arp_accept"`
	ProxyARP    int `json:"proxy_arp"`
}

// IfaceSettings are the sysctls of one interface.
type IfaceSettings struct {
	Name           string `json:"interface"`
	IPv4           ConfV4 `json:"ipv4"`
	IPv6Forwarding int    `json:"ipv6_forwarding"` // net.ipv6.conf.NAME.forwarding; -1 without IPv6
}

// Settings are the per-namespace and per-interface sysctls under
// /proc/sys/net that decide a packet's fate, as the namespace sees them.
type Settings struct {
	Namespace               string          `json:"namespace"`
	IPForward               int             `json:"ip_forward"`           // net.ipv4.ip_forward
	IPv6Forwarding          int             `json:"ipv6_forwarding"`      // net.ipv6.conf.all.forwarding
	ICMPEchoIgnoreAll       int             `json:"icmp_echo_ignore_all"` // net.ipv4.icmp_echo_ignore_all
	ICMPEchoIgnoreBroadcast int             `json:"icmp_echo_ignore_broadcasts"`
	ICMPv6EchoIgnoreAll     int             `json:"icmpv6_echo_ignore_all"` // net.ipv6.icmp.echo_ignore_all
	All                     ConfV4          `json:"all"`
	Default                 ConfV4          `json:"default"`
	Interfaces              []IfaceSettings `json:"interfaces"`
	// BridgeNF are net.bridge.bridge-nf-call-{iptables,ip6tables,arptables};
	// nil when br_netfilter is not loaded (no /proc/sys/net/bridge).
	BridgeNF *BridgeNF `json:"bridge_nf,omitempty"`
}

// BridgeNF says whether bridged frames traverse iptables, ip6tables and
// arptables (br_netfilter).
type BridgeNF struct {
	CallIPTables  int `json:"bridge-nf-call-iptables"`
	CallIP6Tables int `json:"bridge-nf-call-ip6tables"`
	CallARPTables int `json:"bridge-nf-call-arptables"`
}

// Interface returns the settings of the interface named name, or nil.
func (s *Settings) Interface(name string) *IfaceSettings {
	for i := range s.Interfaces {
		if s.Interfaces[i].Name == name {
			return &s.Interfaces[i]
		}
	}
	return nil
}

// Effective is what the kernel applies on interface name, combining all
// and the interface as include/linux/inetdevice.h does: rp_filter,
// arp_ignore and arp_accept take the larger value (IN_DEV_MAXCONF),
// accept_local, arp_filter and proxy_arp either (IN_DEV_ORCONF), and
// forwarding is the interface's own (IN_DEV_FORWARD; writing all sets
// every interface).
func (s *Settings) Effective(name string) (ConfV4, bool) {
	i := s.Interface(name)
	if i == nil {
		return ConfV4{}, false
	}
	a, c := s.All, i.IPv4
	return ConfV4{
		Forwarding:  c.Forwarding,
		RPFilter:    max(a.RPFilter, c.RPFilter),
		AcceptLocal: or(a.AcceptLocal, c.AcceptLocal),
		ARPIgnore:   max(a.ARPIgnore, c.ARPIgnore),
		ARPFilter:   or(a.ARPFilter, c.ARPFilter),
		ARPAccept:   max(a.ARPAccept, c.ARPAccept),
		ProxyARP:    or(a.ProxyARP, c.ProxyARP),
	}, true
}

func or(a, b int) int {
	if a > 0 || b > 0 {
		return 1
	}
	return 0
}
