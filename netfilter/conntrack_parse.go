package netfilter

import (
	"fmt"
	"net/netip"
)

// ctnetlink numbers (linux/netfilter/nfnetlink_conntrack.h) that x/sys lacks.
const (
	ipctnlMsgCtGet  = 1
	ctaTupleOrig    = 1
	ctaTupleReply   = 2
	ctaStatus       = 3
	ctaProtoinfo    = 4
	ctaMark         = 8
	ctaID           = 12
	ctaZone         = 18
	ctaTupleIP      = 1
	ctaTupleProto   = 2
	ctaIPv4Src      = 1
	ctaIPv4Dst      = 2
	ctaIPv6Src      = 3
	ctaIPv6Dst      = 4
	ctaProtoNum     = 1
	ctaProtoSrcPort = 2
	ctaProtoDstPort = 3
	ctaProtoICMPID  = 4
	ctaProtoICMPTyp = 5
	ctaProtoICMPCod = 6
	ctaProtoICMP6ID = 7
	ctaProtoICMP6Ty = 8
	ctaProtoICMP6Co = 9
	ctaProtoinfoTCP = 1
	ctaTCPState     = 1
)

// ParseConntrack decodes one IPCTNL_MSG_CT_NEW payload (nfgenmsg and
// attributes), checking every length.
func ParseConntrack(payload []byte) (Conntrack, error) {
	_, attrs, err := nfgen(payload)
	if err != nil {
		return Conntrack{}, fmt.Errorf("conntrack entry: %w", err)
	}
	var ct Conntrack
	for _, a := range attrs {
		var err error
		switch a.Type {
		case ctaTupleOrig:
			ct.Original, err = parseTuple(a.Data)
		case ctaTupleReply:
			ct.Reply, err = parseTuple(a.Data)
		case ctaStatus:
			var s uint32
			s, err = a.be32()
			ct.Status = Status(s)
		case ctaMark:
			ct.Mark, err = a.be32()
		case ctaZone:
			ct.Zone, err = a.be16()
		case ctaID:
			ct.ID, err = a.be32()
		case ctaProtoinfo:
			ct.TCPState, err = parseTCPState(a.Data)
		}
		if err != nil {
			return Conntrack{}, fmt.Errorf("conntrack entry: %w", err)
		}
	}
	return ct, nil
}

func parseTuple(b []byte) (Tuple, error) {
	attrs, err := parseAttrs(b)
	if err != nil {
		return Tuple{}, fmt.Errorf("tuple: %w", err)
	}
	var t Tuple
	for _, a := range attrs {
		switch a.Type {
		case ctaTupleIP:
			err = t.setIP(a.Data)
		case ctaTupleProto:
			err = t.setProto(a.Data)
		}
		if err != nil {
			return Tuple{}, fmt.Errorf("tuple: %w", err)
		}
	}
	return t, nil
}

func (t *Tuple) setIP(b []byte) error {
	attrs, err := parseAttrs(b)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		addr, ok := netip.AddrFromSlice(a.Data)
		if !ok || (a.Type <= ctaIPv4Dst) != addr.Is4() {
			return fmt.Errorf("address attribute %d: %d bytes", a.Type, len(a.Data))
		}
		switch a.Type {
		case ctaIPv4Src, ctaIPv6Src:
			t.Src = addr
		case ctaIPv4Dst, ctaIPv6Dst:
			t.Dst = addr
		}
	}
	return nil
}

func (t *Tuple) setProto(b []byte) error {
	attrs, err := parseAttrs(b)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		switch a.Type {
		case ctaProtoNum:
			t.Proto, err = a.u8()
		case ctaProtoSrcPort:
			t.SrcPort, err = a.be16()
		case ctaProtoDstPort:
			t.DstPort, err = a.be16()
		case ctaProtoICMPID, ctaProtoICMP6ID:
			t.ICMPID, err = a.be16()
		case ctaProtoICMPTyp, ctaProtoICMP6Ty:
			t.ICMPType, err = a.u8()
		case ctaProtoICMPCod, ctaProtoICMP6Co:
			t.ICMPCode, err = a.u8()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var tcpStates = []string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

func parseTCPState(b []byte) (string, error) {
	attrs, err := parseAttrs(b)
	if err != nil {
		return "", err
	}
	for _, a := range attrs {
		if a.Type != ctaProtoinfoTCP {
			continue
		}
		inner, err := parseAttrs(a.Data)
		if err != nil {
			return "", err
		}
		for _, i := range inner {
			if i.Type == ctaTCPState {
				s, err := i.u8()
				if err != nil {
					return "", err
				}
				if int(s) < len(tcpStates) {
					return tcpStates[s], nil
				}
				return fmt.Sprintf("state-%d", s), nil
			}
		}
	}
	return "", nil
}
