package drops

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"sync"
)

// symbols names kernel addresses from /proc/kallsyms. The text symbols are
// read once, in the background from Open on, into two flat arrays (no
// string per symbol: 5 MB of kallsyms cost one pass, about 0.1 s of CPU),
// so that naming a drop's location never waits on the file twice.
type symbols struct {
	once  sync.Once
	ready chan struct{}
	addrs []uint64
	spans []uint64 // name i is names[spans[i]>>32 : uint32(spans[i])]
	names []byte

	mu    sync.Mutex
	known map[uint64]string
}

func newSymbols() *symbols {
	s := &symbols{ready: make(chan struct{}), known: map[uint64]string{}}
	go s.load()
	return s
}

func (s *symbols) load() {
	s.once.Do(func() {
		defer close(s.ready)
		f, err := os.Open("/proc/kallsyms")
		if err != nil {
			return
		}
		defer f.Close()
		r := bufio.NewReaderSize(f, 1<<16)
		sorted := true
		for {
			line, err := r.ReadSlice('\n')
			// "ffffffff81e94f20 T sk_skb_reason_drop\t[module]"
			if len(line) > 19 && line[16] == ' ' && (line[17] == 't' || line[17] == 'T') {
				if a, ok := parseHex(line[:16]); ok && a != 0 {
					n := bytes.TrimRight(line[19:], "\n")
					if i := bytes.IndexAny(n, " \t"); i >= 0 {
						n = n[:i]
					}
					sorted = sorted && (len(s.addrs) == 0 || s.addrs[len(s.addrs)-1] <= a)
					start := uint64(len(s.names))
					s.addrs = append(s.addrs, a)
					s.names = append(s.names, n...)
					s.spans = append(s.spans, start<<32|uint64(len(s.names)))
				}
			}
			if err != nil {
				break
			}
		}
		if !sorted {
			sort.Sort((*byAddr)(s))
		}
	})
}

// byAddr sorts the table (modules' symbols follow the kernel's); names
// stay where they are, their spans move.
type byAddr symbols

func (b *byAddr) Len() int           { return len(b.addrs) }
func (b *byAddr) Less(i, j int) bool { return b.addrs[i] < b.addrs[j] }
func (b *byAddr) Swap(i, j int) {
	b.addrs[i], b.addrs[j] = b.addrs[j], b.addrs[i]
	b.spans[i], b.spans[j] = b.spans[j], b.spans[i]
}

// name is the function containing addr (the tracepoint's location is a
// return address inside it), or the address in hex when kallsyms hides
// addresses (kptr_restrict) or has none.
func (s *symbols) name(addr uint64) string {
	<-s.ready
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.known[addr]; ok {
		return n
	}
	n := fmt.Sprintf("0x%x", addr)
	if i := sort.Search(len(s.addrs), func(i int) bool { return s.addrs[i] > addr }) - 1; i >= 0 && addr != 0 {
		n = string(s.names[s.spans[i]>>32 : uint32(s.spans[i])])
	}
	s.known[addr] = n
	return n
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
