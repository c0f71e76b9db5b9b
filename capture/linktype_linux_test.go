package capture

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestLinkTypeOfARPHRD: interfaces with an Ethernet header are Ethernet,
// those whose frames are the IP packet (tun and WireGuard, ipip, sit,
// ip6tnl, GRE, raw-IP modems) RAW, as libpcap maps them; the rest is
// refused with the interface, the namespace and the type named.
func TestLinkTypeOfARPHRD(t *testing.T) {
	for _, tt := range []struct {
		hatype uint16
		want   LinkType
	}{
		{unix.ARPHRD_ETHER, LinkEthernet}, {unix.ARPHRD_LOOPBACK, LinkEthernet},
		{unix.ARPHRD_NONE, LinkRaw}, {unix.ARPHRD_TUNNEL, LinkRaw}, {unix.ARPHRD_TUNNEL6, LinkRaw},
		{unix.ARPHRD_SIT, LinkRaw}, {unix.ARPHRD_IPGRE, LinkRaw}, {unix.ARPHRD_RAWIP, LinkRaw},
		{unix.ARPHRD_PPP, LinkRaw},
	} {
		if got, err := linkTypeOf(tt.hatype, "x0", "ns"); got != tt.want || err != nil {
			t.Errorf("ARPHRD %d: %v, %v; want %v", tt.hatype, got, err, tt.want)
		}
	}
	for hatype, want := range map[uint16]string{
		unix.ARPHRD_CAN:       "interface vcan0 in nsx has link type ARPHRD_CAN, which nsdump cannot capture",
		unix.ARPHRD_IEEE80211: "interface vcan0 in nsx has link type ARPHRD_IEEE80211, which nsdump cannot capture",
		0x4242:                "interface vcan0 in nsx has link type ARPHRD 16962, which nsdump cannot capture",
	} {
		if _, err := linkTypeOf(hatype, "vcan0", "nsx"); err == nil || err.Error() != want {
			t.Errorf("ARPHRD %d: %v, want %q", hatype, err, want)
		}
	}
}
