package trace

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace/facts"
	"golang.org/x/sys/unix"
)

// listenOrFind listens on port in s for family v, unless something already
// listens there: then it says who, and the trace probes that as it is.
func listenOrFind(s *side, v int, port uint16) (*listener, *facts.Listener, error) {
	l, err := listenIn(s.ns, v, port)
	if err == nil {
		return l, nil, nil
	}
	if !errors.Is(err, unix.EADDRINUSE) {
		return nil, nil, fmt.Errorf("listen on port %d in %s: %w (use --no-listen to probe what listens there)", port, s.name, err)
	}
	who, ferr := findSocket(s.ts, s.name, v, port, "tcp", tcpListen)
	if ferr != nil {
		return nil, nil, fmt.Errorf("listen on port %d in %s: %w, and no listening socket found: %v", port, s.name, err, ferr)
	}
	return nil, who, nil
}

// The socket states /proc/net/{tcp,udp} show for a listening TCP socket
// and an unconnected UDP one.
const (
	tcpListen = "0A"
	udpBound  = "07"
)

// findSocket finds the socket of proto (tcp, udp) in state on port that
// takes family v in namespace ns (/proc/net/tcp, tcp6: an IPv6 wildcard
// socket may take IPv4 too), and the process holding it.
func findSocket(ts *topology.Targets, ns string, v int, port uint16, proto, state string) (*facts.Listener, error) {
	files := []string{proto, proto + "6"}
	if v == 6 {
		files = []string{proto + "6"}
	}
	for _, f := range files {
		text, err := ts.ProcNetFile(ns, f)
		if err != nil {
			return nil, err
		}
		if addr, ino, ok := listening(text, port, state); ok {
			l := &facts.Listener{Address: addr}
			l.PID, l.Comm = socketOwner(ino)
			return l, nil
		}
	}
	return nil, fmt.Errorf("no socket listens on port %d", port)
}

// listening reads /proc/net/{tcp,udp}{,6} text: the local address and
// inode of the socket in state on port.
func listening(text string, port uint16, state string) (addr string, inode uint64, ok bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != state {
			continue
		}
		host, p, found := strings.Cut(f[1], ":")
		pv, err := strconv.ParseUint(p, 16, 16)
		if !found || err != nil || uint16(pv) != port {
			continue
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			continue
		}
		return procNetAddr(host, port), ino, true
	}
	return "", 0, false
}

// procNetAddr turns /proc/net/tcp's hex address (host byte order words)
// into ADDR:PORT.
func procNetAddr(hex string, port uint16) string {
	var b []byte
	for i := 0; i+8 <= len(hex); i += 8 {
		w, err := strconv.ParseUint(hex[i:i+8], 16, 32)
		if err != nil {
			return hex
		}
		// Each 32-bit word is printed in host (little-endian) order.
		b = append(b, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
	}
	switch len(b) {
	case 4:
		return fmt.Sprintf("%d.%d.%d.%d:%d", b[0], b[1], b[2], b[3], port)
	case 16:
		a := [16]byte(b)
		return fmt.Sprintf("[%s]:%d", netipFrom16(a), port)
	}
	return hex
}

// socketOwner finds the process holding socket inode ino: the lowest PID
// with an fd that is socket:[ino].
func socketOwner(ino uint64) (int, string) {
	want := fmt.Sprintf("socket:[%d]", ino)
	entries, _ := os.ReadDir("/proc")
	best := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || best != 0 && pid > best {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + e.Name() + "/fd")
		for _, fd := range fds {
			if link, err := os.Readlink("/proc/" + e.Name() + "/fd/" + fd.Name()); err == nil && link == want {
				best = pid
				break
			}
		}
	}
	if best == 0 {
		return 0, ""
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", best))
	return best, strings.TrimSpace(string(comm))
}
