package netfilter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/nsdump/nsdump/topology"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// conn is a NETLINK_NETFILTER socket made inside a namespace (through
// topology.Do, the one namespace switch) and used from here on anywhere.
type conn struct {
	mu  sync.Mutex // one request at a time; replies are matched by sequence
	fd  int
	seq uint32
}

// requestTimeout bounds a wait for the kernel's answer to one request; it is
// a receive timeout on the socket, so a request never hangs the caller.
const requestTimeout = 10 * time.Second

// dial opens a netfilter netlink socket in ns, joined to groups.
func dial(ns netns.NsHandle, groups ...uint32) (*conn, error) {
	fd := -1
	err := topology.Do(ns, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netfilter netlink socket: %w", err)
	}
	c := &conn{fd: fd, seq: uint32(time.Now().UnixNano())}
	if err := c.setup(groups); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

func (c *conn) setup(groups []uint32) error {
	if err := unix.Bind(c.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind netfilter netlink socket: %w", err)
	}
	// Extended acks carry the kernel's own words on a refused request.
	_ = unix.SetsockoptInt(c.fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	for _, g := range groups {
		if err := unix.SetsockoptInt(c.fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, int(g)); err != nil {
			return fmt.Errorf("join netlink group %d: %w", g, err)
		}
	}
	tv := unix.NsecToTimeval(requestTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set netlink receive timeout: %w", err)
	}
	return nil
}

func (c *conn) close() error { return unix.Close(c.fd) }

func (c *conn) nextSeq() uint32 { c.seq++; return c.seq }

// batch sends msgs as one nftables transaction (all or nothing) and waits
// for the kernel's answer to each of them.
func (c *conn) batch(msgs []message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b []byte
	begin := message{Type: unix.NFNL_MSG_BATCH_BEGIN, Flags: unix.NLM_F_REQUEST, Seq: c.nextSeq(), ResID: unix.NFNL_SUBSYS_NFTABLES}
	b = begin.marshal(b)
	want := map[uint32]bool{}
	for _, m := range msgs {
		m.Seq = c.nextSeq()
		m.Flags |= unix.NLM_F_REQUEST | unix.NLM_F_ACK
		want[m.Seq] = true
		b = m.marshal(b)
	}
	end := message{Type: unix.NFNL_MSG_BATCH_END, Flags: unix.NLM_F_REQUEST, Seq: c.nextSeq(), ResID: unix.NFNL_SUBSYS_NFTABLES}
	b = end.marshal(b)
	if err := unix.Sendto(c.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send nftables batch: %w", err)
	}
	var first error
	for len(want) > 0 {
		ms, err := c.recv()
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.Type == unix.NLMSG_ERROR && m.Seq == begin.Seq {
				// The batch as a whole was refused: no other answer comes.
				if err := ackError(m); err != nil {
					return err
				}
			}
			if m.Type != unix.NLMSG_ERROR || !want[m.Seq] {
				continue
			}
			delete(want, m.Seq)
			if err := ackError(m); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// dump sends one dump request and returns the payloads of its answers.
func (c *conn) dump(m message) ([]rawMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.Seq = c.nextSeq()
	m.Flags |= unix.NLM_F_REQUEST | unix.NLM_F_DUMP
	if err := unix.Sendto(c.fd, m.marshal(nil), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("send dump request: %w", err)
	}
	var out []rawMessage
	for {
		ms, err := c.recv()
		if err != nil {
			return nil, err
		}
		for _, r := range ms {
			if r.Seq != m.Seq {
				continue
			}
			switch r.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if err := ackError(r); err != nil {
					return nil, err
				}
				return out, nil
			}
			// Payloads alias the receive buffer, which recv allocates anew.
			out = append(out, r)
		}
	}
}

// recv reads one datagram, retrying on EINTR.
func (c *conn) recv() ([]rawMessage, error) {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			return nil, fmt.Errorf("no answer from the kernel within %v", requestTimeout)
		}
		if err != nil {
			return nil, fmt.Errorf("receive from netfilter netlink: %w", err)
		}
		return splitMessages(buf[:n])
	}
}

// ackError turns an NLMSG_ERROR payload into nil (an ack) or an error
// carrying the errno (errors.Is(err, unix.ENOENT) works) and the kernel's
// extended-ack message when there is one.
func ackError(m rawMessage) error {
	if len(m.Payload) < 4 {
		return fmt.Errorf("netlink error message: %d bytes", len(m.Payload))
	}
	code := int32(binary.LittleEndian.Uint32(m.Payload))
	if code == 0 {
		return nil
	}
	errno := syscall.Errno(-code)
	if msg := extAckMessage(m); msg != "" {
		return fmt.Errorf("%w (%s)", errno, msg)
	}
	return errno
}

// extAckMessage reads NLMSGERR_ATTR_MSG after the echoed request header.
func extAckMessage(m rawMessage) string {
	if m.Flags&unix.NLM_F_ACK_TLVS == 0 || len(m.Payload) < 4+nlmsgHdrLen {
		return ""
	}
	skip := 4 + nlmsgHdrLen
	if m.Flags&unix.NLM_F_CAPPED == 0 {
		skip = 4 + int(binary.LittleEndian.Uint32(m.Payload[4:]))
	}
	if skip > len(m.Payload) {
		return ""
	}
	attrs, _ := parseAttrs(m.Payload[skip:])
	for _, a := range attrs {
		if a.Type == unix.NLMSGERR_ATTR_MSG {
			return a.str()
		}
	}
	return ""
}
