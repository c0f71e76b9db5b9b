package topology

import (
	"encoding/binary"
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// kernelRefusal is an NLMSG_ERROR answer: the kernel refused the request,
// unlike a socket error (a receive timeout is EAGAIN too).
type kernelRefusal struct{ errno syscall.Errno }

func (e *kernelRefusal) Error() string { return e.errno.Error() }
func (e *kernelRefusal) Unwrap() error { return e.errno }

// exchange sends one request (its header filled here) on a netlink socket
// and returns the payloads of the answer: one message, or a dump's messages
// up to NLMSG_DONE. A kernel error comes back as a *kernelRefusal.
func exchange(fd int, typ, flags uint16, body []byte) ([][]byte, error) {
	req := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	req = append(req, body...)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], typ)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|flags)
	binary.NativeEndian.PutUint32(req[8:], 1)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out [][]byte
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("short netlink error")
				}
				if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return nil, &kernelRefusal{syscall.Errno(errno)}
				}
				return out, nil
			}
			out = append(out, append([]byte(nil), m.Data...))
			if flags&unix.NLM_F_DUMP == 0 {
				return out, nil
			}
		}
	}
}

// attrs splits netlink attributes by type (the nested and byte-order bits
// cleared); a truncated attribute ends the list.
func attrs(b []byte) map[uint16][]byte {
	m := map[uint16][]byte{}
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b))
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		m[binary.NativeEndian.Uint16(b[2:])&nlaTypeMask] = b[unix.SizeofRtAttr:l]
		b = b[min((l+3)&^3, len(b)):]
	}
	return m
}

func attrU8(m map[uint16][]byte, t uint16) (uint8, bool) {
	v, ok := m[t]
	if !ok || len(v) < 1 {
		return 0, false
	}
	return v[0], true
}

func attrU32(m map[uint16][]byte, t uint16) (uint32, bool) {
	v, ok := m[t]
	if !ok || len(v) < 4 {
		return 0, false
	}
	return binary.NativeEndian.Uint32(v), true
}

func attrString(m map[uint16][]byte, t uint16) string {
	v := m[t]
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

// nlaTypeMask clears NLA_F_NESTED and NLA_F_NET_BYTEORDER from a type.
const nlaTypeMask = 0x3fff
