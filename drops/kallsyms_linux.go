package drops

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sync"
)

// symbols names kernel addresses from /proc/kallsyms. A drop's location is
// one of a few dozen functions, so each new address costs one pass over
// the file (5 MB, about 0.1 s of CPU) that keeps nothing but the answer,
// and a trace with no drop pays nothing.
type symbols struct {
	mu    sync.Mutex
	known map[uint64]string
}

// name is the function containing addr (the tracepoint's location is a
// return address inside it), or the address in hex when kallsyms hides
// addresses (kptr_restrict) or has none.
func (s *symbols) name(addr uint64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.known[addr]; ok {
		return n
	}
	if s.known == nil {
		s.known = map[uint64]string{}
	}
	n := lookupSymbol(addr)
	s.known[addr] = n
	return n
}

func lookupSymbol(addr uint64) string {
	hex := fmt.Sprintf("0x%x", addr)
	f, err := os.Open("/proc/kallsyms")
	if err != nil || addr == 0 {
		return hex
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var best uint64
	var name []byte
	for {
		line, err := r.ReadSlice('\n')
		// "ffffffff81e94f20 T sk_skb_reason_drop\t[module]"
		if len(line) > 19 && line[16] == ' ' && (line[17] == 't' || line[17] == 'T') {
			if a, ok := parseHex(line[:16]); ok && a <= addr && a > best {
				best = a
				n := bytes.TrimRight(line[19:], "\n")
				if i := bytes.IndexAny(n, " \t"); i >= 0 {
					n = n[:i]
				}
				name = append(name[:0], n...)
			}
		}
		if err != nil {
			break
		}
	}
	if best == 0 {
		return hex
	}
	return string(name)
}

func parseHex(b []byte) (uint64, bool) {
	var v uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}
