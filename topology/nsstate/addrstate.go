package nsstate

import (
	"net/netip"
	"strings"
)

// AddrFlags are an address's IFA_F_* flags (include/uapi/linux/if_addr.h),
// written as `ip addr` writes them.
type AddrFlags uint32

const (
	AddrSecondary  AddrFlags = 0x01
	AddrNoDAD      AddrFlags = 0x02
	AddrOptimistic AddrFlags = 0x04
	AddrDADFailed  AddrFlags = 0x08
	AddrHome       AddrFlags = 0x10
	AddrDeprecated AddrFlags = 0x20
	AddrTentative  AddrFlags = 0x40
	AddrPermanent  AddrFlags = 0x80
)

var addrFlagWords = []struct {
	f    AddrFlags
	word string
}{
	{AddrSecondary, "secondary"}, {AddrTentative, "tentative"}, {AddrDeprecated, "deprecated"},
	{AddrHome, "home"}, {AddrNoDAD, "nodad"}, {AddrOptimistic, "optimistic"}, {AddrDADFailed, "dadfailed"},
}

// String lists the flags iproute2 prints, in its order ("tentative dadfailed").
func (f AddrFlags) String() string {
	var w []string
	for _, fw := range addrFlagWords {
		if f&fw.f != 0 {
			w = append(w, fw.word)
		}
	}
	return strings.Join(w, " ")
}

// MarshalText writes the flags as String does.
func (f AddrFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (f *AddrFlags) UnmarshalText(b []byte) error {
	*f = 0
	for _, word := range strings.Fields(string(b)) {
		for _, fw := range addrFlagWords {
			if fw.word == word {
				*f |= fw.f
			}
		}
	}
	return nil
}

// AddrState is one address of an interface with its flags.
type AddrState struct {
	Interface string       `json:"dev"`
	Prefix    netip.Prefix `json:"addr"`
	Flags     AddrFlags    `json:"flags"`
}

// Usable reports whether a socket can bind the address and send from it:
// not tentative (DAD under way, or failed: the kernel keeps a dadfailed
// address tentative) and not dadfailed.
func (a AddrState) Usable() bool { return a.Flags&(AddrTentative|AddrDADFailed) == 0 }
