package decode

import (
	"encoding/binary"
	"errors"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// cooked decodes Linux cooked captures, v1 (LINKTYPE_LINUX_SLL, 16 bytes)
// and v2 (LINKTYPE_LINUX_SLL2, 20 bytes). gopacket's LinuxSLL slices the
// address by its length field unchecked, and has no v2.
type cooked struct {
	layers.BaseLayer
	v2        bool
	PktType   uint8 // 0 to us, 1 broadcast, 2 multicast, 3 other host, 4 outgoing
	Proto     layers.EthernetType
	AddrLen   uint8
	layerType gopacket.LayerType
}

var (
	layerTypeSLL  = gopacket.RegisterLayerType(12113, gopacket.LayerTypeMetadata{Name: "nsdumpSLL"})
	layerTypeSLL2 = gopacket.RegisterLayerType(12276, gopacket.LayerTypeMetadata{Name: "nsdumpSLL2"})
)

func (c *cooked) LayerType() gopacket.LayerType { return c.layerType }

func (c *cooked) CanDecode() gopacket.LayerClass { return c.layerType }

func (c *cooked) NextLayerType() gopacket.LayerType { return c.Proto.LayerType() }

func (c *cooked) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if c.v2 {
		if len(data) < 20 {
			return errors.New("cooked v2 header truncated")
		}
		c.Proto = layers.EthernetType(binary.BigEndian.Uint16(data[0:]))
		c.PktType, c.AddrLen = data[10], data[11]
		c.BaseLayer = layers.BaseLayer{Contents: data[:20], Payload: data[20:]}
		return nil
	}
	if len(data) < 16 {
		return errors.New("cooked header truncated")
	}
	c.PktType = uint8(binary.BigEndian.Uint16(data[0:]))
	c.AddrLen = uint8(min(binary.BigEndian.Uint16(data[4:]), 8))
	c.Proto = layers.EthernetType(binary.BigEndian.Uint16(data[14:]))
	c.BaseLayer = layers.BaseLayer{Contents: data[:16], Payload: data[16:]}
	return nil
}
