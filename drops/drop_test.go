package drops

import (
	"bytes"
	"testing"
)

// TestAppendEthernet: a drop becomes an Ethernet frame, with the frame's
// own header when the kernel had one, else a made-up one whose EtherType
// is the packet's protocol (as tcpdump -e shows it:
// "00:00:00:00:00:00 > 00:00:00:00:00:00, ethertype IPv4 (0x0800)").
func TestAppendEthernet(t *testing.T) {
	ip := []byte{0x45, 0, 0, 20}
	own := []byte{0xca, 0x28, 0xa1, 0xb4, 0xa4, 0xde, 0x62, 0xbb, 0xa7, 0x0d, 0x36, 0xf3, 0x08, 0x00}
	tests := []struct {
		name string
		d    Drop
		want []byte
	}{
		{"own header", Drop{Protocol: EtherIPv4, MAC: own, Data: ip}, append(append([]byte(nil), own...), ip...)},
		{"no header", Drop{Protocol: EtherIPv4, Data: ip}, append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00}, ip...)},
		{"IPv6, no header", Drop{Protocol: EtherIPv6, Data: []byte{0x60}}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd, 0x60}},
		{"a short header is no header", Drop{Protocol: EtherARP, MAC: own[:6]}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x06}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("kept")
			got := tt.d.AppendEthernet(prefix)
			if !bytes.Equal(got[:4], prefix) || !bytes.Equal(got[4:], tt.want) || len(got)-4 != EthernetHeaderLen+len(tt.d.Data) {
				t.Errorf("AppendEthernet = % x, want %q + % x", got, prefix, tt.want)
			}
		})
	}
}
