package nsstate

import (
	"fmt"
	"strconv"
)

// NeighState is a neighbour entry's state: the kernel's NUD_* bits
// (include/uapi/linux/neighbour.h), written as `ip neigh` writes them.
type NeighState uint16

const (
	NeighIncomplete NeighState = 0x01
	NeighReachable  NeighState = 0x02
	NeighStale      NeighState = 0x04
	NeighDelay      NeighState = 0x08
	NeighProbe      NeighState = 0x10
	NeighFailed     NeighState = 0x20
	NeighNoARP      NeighState = 0x40
	NeighPermanent  NeighState = 0x80
)

var neighStateNames = map[NeighState]string{
	NeighIncomplete: "INCOMPLETE", NeighReachable: "REACHABLE", NeighStale: "STALE", NeighDelay: "DELAY",
	NeighProbe: "PROBE", NeighFailed: "FAILED", NeighNoARP: "NOARP", NeighPermanent: "PERMANENT",
}

// String is the state's name ("REACHABLE"), or its number for a value
// that is not one state.
func (s NeighState) String() string {
	if name, ok := neighStateNames[s]; ok {
		return name
	}
	return strconv.Itoa(int(s))
}

// Unresolved reports whether the entry holds no MAC to send to: its
// resolution is under way or got no answer.
func (s NeighState) Unresolved() bool { return s == NeighIncomplete || s == NeighFailed }

// MarshalText writes the state as String does, so recorded facts read
// "state": "REACHABLE".
func (s NeighState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText writes: a name or a number.
func (s *NeighState) UnmarshalText(b []byte) error {
	for v, name := range neighStateNames {
		if string(b) == name {
			*s = v
			return nil
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return fmt.Errorf("neighbour state %q: not a state's name or number", clipText(b))
	}
	*s = NeighState(n)
	return nil
}

// clipText bounds what an error quotes of hostile input.
func clipText(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}
