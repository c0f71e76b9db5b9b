package capture

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// pointLinkType is the link type of what an AF_PACKET SOCK_RAW socket hands
// over on interface ifc of the calling thread's namespace (nsName names it
// in the error), from the interface's ARPHRD type as libpcap maps it
// (pcap-linux.c, map_arphrd_to_dlt): Ethernet and loopback carry an
// Ethernet header; tun devices (WireGuard too), ipip, sit, ip6tnl, GRE
// and the like carry none, the frame is the IP packet (LINKTYPE_RAW).
// Other types, which libpcap captures through cooked sockets or in
// formats nsdump does not decode, are refused.
func pointLinkType(ifc, nsName string) (LinkType, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0) // any socket asks the device ioctls of its namespace
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(ifc)
	if err != nil {
		return 0, fmt.Errorf("interface %q: %w", ifc, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, fmt.Errorf("interface %s in %s: link type (SIOCGIFHWADDR): %w", ifc, nsName, err)
	}
	return linkTypeOf(ifr.Uint16(), ifc, nsName) // sockaddr.sa_family holds the ARPHRD type
}

// linkTypeOf maps an ARPHRD type, hatype of interface ifc in nsName.
func linkTypeOf(hatype uint16, ifc, nsName string) (LinkType, error) {
	switch hatype {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK, unix.ARPHRD_METRICOM:
		return LinkEthernet, nil
	case unix.ARPHRD_NONE, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6, unix.ARPHRD_SIT,
		unix.ARPHRD_IPGRE, unix.ARPHRD_IP6GRE, unix.ARPHRD_RAWIP, unix.ARPHRD_PPP,
		unix.ARPHRD_SLIP, unix.ARPHRD_CSLIP, unix.ARPHRD_SLIP6, unix.ARPHRD_CSLIP6,
		unix.ARPHRD_ADAPT, unix.ARPHRD_RAWHDLC, unix.ARPHRD_DLCI:
		return LinkRaw, nil
	}
	return 0, fmt.Errorf("interface %s in %s has link type %s, which nsdump cannot capture", ifc, nsName, arphrdName(hatype))
}

// arphrdName is how if_arp.h names an ARPHRD type.
func arphrdName(t uint16) string {
	names := map[uint16]string{
		unix.ARPHRD_EETHER: "EETHER", unix.ARPHRD_AX25: "AX25", unix.ARPHRD_IEEE802: "IEEE802",
		unix.ARPHRD_ARCNET: "ARCNET", unix.ARPHRD_ATM: "ATM", unix.ARPHRD_INFINIBAND: "INFINIBAND",
		unix.ARPHRD_CAN: "CAN", unix.ARPHRD_MCTP: "MCTP", unix.ARPHRD_X25: "X25", unix.ARPHRD_HWX25: "HWX25",
		unix.ARPHRD_CISCO: "CISCO", unix.ARPHRD_LAPB: "LAPB", unix.ARPHRD_DDCMP: "DDCMP",
		unix.ARPHRD_FRAD: "FRAD", unix.ARPHRD_FDDI: "FDDI", unix.ARPHRD_PIMREG: "PIMREG",
		unix.ARPHRD_HIPPI: "HIPPI", unix.ARPHRD_IRDA: "IRDA", unix.ARPHRD_FCPP: "FCPP",
		unix.ARPHRD_IEEE802_TR: "IEEE802_TR", unix.ARPHRD_IEEE80211: "IEEE80211",
		unix.ARPHRD_IEEE80211_PRISM: "IEEE80211_PRISM", unix.ARPHRD_IEEE80211_RADIOTAP: "IEEE80211_RADIOTAP",
		unix.ARPHRD_IEEE802154: "IEEE802154", unix.ARPHRD_PHONET: "PHONET", unix.ARPHRD_PHONET_PIPE: "PHONET_PIPE",
		unix.ARPHRD_CAIF: "CAIF", unix.ARPHRD_6LOWPAN: "6LOWPAN", unix.ARPHRD_NETLINK: "NETLINK",
		unix.ARPHRD_VSOCKMON: "VSOCKMON", unix.ARPHRD_VOID: "VOID",
	}
	if n, ok := names[t]; ok {
		return "ARPHRD_" + n
	}
	return fmt.Sprintf("ARPHRD %d", t)
}
