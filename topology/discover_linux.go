package topology

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Found is one network namespace found on the host, with whatever keeps it
// alive: a name under /run/netns, other nsfs bind mounts, processes.
type Found struct {
	Inode  uint64   `json:"inode"`
	Dev    uint64   `json:"-"`
	Name   string   `json:"name,omitempty"` // under /run/netns
	Mounts []string `json:"mounts,omitempty"`
	PIDs   []int    `json:"-"`
	// open is a path that opens the namespace from here.
	open string
}

// Display is how the namespace is shown: its name, else pid:N (the lowest
// process in it), else the first bind mount.
func (f *Found) Display() string {
	switch {
	case f.Name != "":
		return f.Name
	case len(f.PIDs) > 0:
		return "pid:" + strconv.Itoa(f.PIDs[0])
	case len(f.Mounts) > 0:
		return f.Mounts[0]
	}
	return fmt.Sprintf("net:[%d]", f.Inode)
}

// Spec is a target that opens the namespace from here: its name, else
// pid:N, else the path to its bind mount through /proc/PID/root.
func (f *Found) Spec() string {
	switch {
	case f.Name != "":
		return f.Name
	case len(f.PIDs) > 0:
		return "pid:" + strconv.Itoa(f.PIDs[0])
	}
	return f.open
}

// Open opens the namespace by the path it was found through.
func (f *Found) Open() (netns.NsHandle, error) {
	return openNetNSFile(f.Display(), f.open)
}

// AllNamespaces finds every network namespace on the host, as `lsns -t net`
// does and beyond: named ones, those of every process, and those held only
// by a bind mount in any mount namespace (found through /proc/PID/mountinfo,
// opened through /proc/PID/root). Sorted: named first, then by inode.
func AllNamespaces() ([]*Found, error) {
	byIno := map[uint64]*Found{}
	get := func(ino, dev uint64, open string) *Found {
		f, ok := byIno[ino]
		if !ok {
			f = &Found{Inode: ino, Dev: dev, open: open}
			byIno[ino] = f
		}
		return f
	}
	names, err := ListNamespaces()
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		var st unix.Stat_t
		if statNsfs(NamespacePath(name), &st) {
			get(st.Ino, st.Dev, NamespacePath(name)).Name = name
		}
	}
	seenMnt := map[string]bool{}
	for _, pid := range allPIDs() {
		path := fmt.Sprintf("/proc/%d/ns/net", pid)
		var st unix.Stat_t
		if !statNsfs(path, &st) {
			continue
		}
		f := get(st.Ino, st.Dev, path)
		f.PIDs = append(f.PIDs, pid)
		mnt, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
		if err != nil || seenMnt[mnt] {
			continue
		}
		seenMnt[mnt] = true
		for _, m := range nsfsMounts(pid) {
			var st unix.Stat_t
			if !statNsfs(m.open, &st) {
				continue
			}
			f := get(st.Ino, st.Dev, m.open)
			if !strings.HasPrefix(m.path, RunDir+"/") && !contains(f.Mounts, m.path) {
				f.Mounts = append(f.Mounts, m.path)
			}
		}
	}
	out := make([]*Found, 0, len(byIno))
	for _, f := range byIno {
		sort.Strings(f.Mounts)
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Name != "") != (out[j].Name != "") {
			return out[i].Name != ""
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Inode < out[j].Inode
	})
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// statNsfs stats path and reports whether it is a network namespace file.
func statNsfs(path string, st *unix.Stat_t) bool {
	if unix.Stat(path, st) != nil {
		return false
	}
	if !strings.HasPrefix(path, "/proc/") || !strings.HasSuffix(path, "/ns/net") {
		// A bind mount: nsfs, and a network namespace.
		if !isNsfs(path) {
			return false
		}
	}
	return true
}

type nsfsMount struct{ path, open string }

// nsfsMounts lists the network namespace bind mounts that process pid's
// mount namespace has: mountinfo lines of type nsfs whose root is net:[N].
func nsfsMounts(pid int) []nsfsMount {
	f, err := os.Open(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []nsfsMount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, x := range fields {
			if x == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) || fields[sep+1] != "nsfs" || !strings.HasPrefix(fields[3], "net:[") {
			continue
		}
		mp := unescapeMount(fields[4])
		out = append(out, nsfsMount{path: mp, open: filepath.Join(fmt.Sprintf("/proc/%d/root", pid), mp)})
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// nameOf is the Name of a target ts holds with this identity (the user's
// own words for it), else def.
func (ts *Targets) nameOf(ino, dev uint64, def string) string {
	if ts == nil {
		return def
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, n := range ts.m {
		if n.Inode == ino && n.Dev == dev {
			return n.Name
		}
	}
	return def
}

// linkNameIn resolves an interface index inside an open namespace.
func linkNameIn(ns netns.NsHandle, index int) string {
	h, err := netlinkIn(ns)
	if err != nil {
		return fmt.Sprintf("if%d", index)
	}
	defer h.Close()
	if l, err := h.LinkByIndex(index); err == nil {
		return l.Attrs().Name
	}
	return fmt.Sprintf("if%d", index)
}
