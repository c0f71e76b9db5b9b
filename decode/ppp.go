package decode

import (
	"encoding/binary"
	"errors"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// pppMPLS decodes LINKTYPE_PPP (RFC 1661 framing, address and control
// fields optional) carrying IPv4, IPv6, or IP under an MPLS label stack,
// as traceroute captures on routers show. gopacket's PPP and MPLS are not
// DecodingLayers.
type pppMPLS struct {
	layers.BaseLayer
	next gopacket.LayerType
}

var layerTypePPP = gopacket.RegisterLayerType(12009, gopacket.LayerTypeMetadata{Name: "nsdumpPPP"})

func (l *pppMPLS) LayerType() gopacket.LayerType     { return layerTypePPP }
func (l *pppMPLS) CanDecode() gopacket.LayerClass    { return layerTypePPP }
func (l *pppMPLS) NextLayerType() gopacket.LayerType { return l.next }

func (l *pppMPLS) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	b := data
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 2 {
		return errors.New("PPP header truncated")
	}
	proto := binary.BigEndian.Uint16(b)
	b = b[2:]
	if proto == 0x0281 || proto == 0x0283 { // MPLS unicast, multicast: skip to the bottom of the stack
		for {
			if len(b) < 4 {
				return errors.New("MPLS label stack truncated")
			}
			bottom := b[2]&1 != 0
			b = b[4:]
			if bottom {
				break
			}
		}
		proto = 0x0021
		if len(b) > 0 && b[0]>>4 == 6 {
			proto = 0x0057
		}
	}
	switch proto {
	case 0x0021:
		l.next = layers.LayerTypeIPv4
	case 0x0057:
		l.next = layers.LayerTypeIPv6
	default:
		l.next = gopacket.LayerTypeZero
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:len(data)-len(b)], Payload: b}
	return nil
}
