package drops

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// symbols names kernel addresses from /proc/kallsyms, read once, on the
// first drop: a trace with no drop never pays for it.
type symbols struct {
	once  sync.Once
	addrs []uint64
	names []string
}

func (s *symbols) load() {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<16)
	for sc.Scan() {
		line := sc.Text()
		// "ffffffff81e94f20 T sk_skb_reason_drop [module]"
		sp := strings.IndexByte(line, ' ')
		if sp != 16 || len(line) < sp+3 {
			continue
		}
		switch line[sp+1] {
		case 't', 'T':
		default:
			continue
		}
		addr, err := strconv.ParseUint(line[:sp], 16, 64)
		if err != nil || addr == 0 {
			continue
		}
		name := line[sp+3:]
		if i := strings.IndexAny(name, " \t"); i >= 0 {
			name = name[:i]
		}
		s.addrs = append(s.addrs, addr)
		s.names = append(s.names, name)
	}
	idx := make([]int, len(s.addrs))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return s.addrs[idx[a]] < s.addrs[idx[b]] })
	addrs, names := make([]uint64, len(idx)), make([]string, len(idx))
	for i, j := range idx {
		addrs[i], names[i] = s.addrs[j], s.names[j]
	}
	s.addrs, s.names = addrs, names
}

// name is the function containing addr (the tracepoint's location is a
// return address inside it), or the address in hex when kallsyms hides
// addresses (kptr_restrict) or has none.
func (s *symbols) name(addr uint64) string {
	s.once.Do(s.load)
	i := sort.Search(len(s.addrs), func(i int) bool { return s.addrs[i] > addr }) - 1
	if i < 0 || addr == 0 {
		return fmt.Sprintf("0x%x", addr)
	}
	return s.names[i]
}
