package nsstate

import (
	"fmt"
	"strconv"
)

// PortState is a bridge port's STP state (BR_STATE_*, include/uapi/linux/if_bridge.h),
// written as `bridge link` writes it.
type PortState uint8

const (
	PortDisabled   PortState = 0
	PortListening  PortState = 1
	PortLearning   PortState = 2
	PortForwarding PortState = 3
	PortBlocking   PortState = 4
)

var portStateNames = []string{"disabled", "listening", "learning", "forwarding", "blocking"}

func (s PortState) String() string {
	if int(s) < len(portStateNames) {
		return portStateNames[s]
	}
	return strconv.Itoa(int(s))
}

// MarshalText writes the state as String does ("forwarding").
func (s PortState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText writes: a name or a number.
func (s *PortState) UnmarshalText(b []byte) error {
	for i, n := range portStateNames {
		if n == string(b) {
			*s = PortState(i)
			return nil
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 8)
	if err != nil {
		return fmt.Errorf("bridge port state %q: not a state's name or number", clipText(b))
	}
	*s = PortState(n)
	return nil
}

// BridgePort is one port of a bridge as `bridge -d link` shows it.
type BridgePort struct {
	Name     string    `json:"ifname"`
	Bridge   string    `json:"master"`
	Up       bool      `json:"up"`      // IFF_UP
	Carrier  bool      `json:"carrier"` // IFF_LOWER_UP
	State    PortState `json:"state"`
	Learning bool      `json:"learning"`
	Flood    bool      `json:"flood"` // unknown-unicast flooding
	Isolated bool      `json:"isolated"`
}

// Forwards reports whether the port passes frames at all: up with a
// carrier and in STP state forwarding. Isolation is per pair of ports.
func (p BridgePort) Forwards() bool { return p.Up && p.Carrier && p.State == PortForwarding }

// Bridge is a bridge device with its ports.
type Bridge struct {
	Name    string       `json:"ifname"`
	Up      bool         `json:"up"`
	Carrier bool         `json:"carrier"`
	STP     uint32       `json:"stp_state"` // 0 off, 1 kernel STP, 2 user-space STP
	Ports   []BridgePort `json:"ports"`
}

// Port returns the port named name, or nil.
func (b *Bridge) Port(name string) *BridgePort {
	for i := range b.Ports {
		if b.Ports[i].Name == name {
			return &b.Ports[i]
		}
	}
	return nil
}

// BridgeFDBEntry is one forwarding database entry as `bridge fdb` shows it.
type BridgeFDBEntry struct {
	MAC    string `json:"mac"`
	Port   string `json:"ifname"`           // the port (or the bridge itself, for its own MACs)
	Bridge string `json:"master,omitempty"` // the bridge whose table holds it
	VLAN   int    `json:"vlan,omitempty"`
	// State is "permanent" (the bridge's or a port's own MAC), "static"
	// (added by hand, never aged or moved), "" (learned) or "stale"
	// (learned and past its ageing time: the bridge has not yet removed
	// it), as `bridge fdb show` says.
	State string `json:"state,omitempty"`
}
