package cmdline

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// A Command is one program and its arguments, as words.
type Command []string

// String is the command as a user pastes it into a POSIX shell.
func (c Command) String() string {
	q := make([]string, len(c))
	for i, w := range c {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// Join is commands run one after the other, each only if the one before
// succeeded.
func Join(cs ...Command) string {
	s := make([]string, 0, len(cs))
	for _, c := range cs {
		if len(c) > 0 {
			s = append(s, c.String())
		}
	}
	return strings.Join(s, " && ")
}

// Quote is a word as a POSIX shell reads it back unchanged: as it is when
// it holds only characters no shell treats specially, else in single
// quotes, inside which a shell reads every byte literally but the single
// quote itself, which it writes as quote, backslash, quote, quote.
func Quote(w string) string {
	if w != "" && strings.IndexFunc(w, needsQuote) < 0 {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

func needsQuote(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("_@%+=:,./-", r)
}

// ErrName marks a name a command cannot carry to its program.
var ErrName = errors.New("name a command cannot carry")

// InNamespace runs a program inside a namespace target: `ip netns exec
// NAME` for a name under /run/netns, nsenter for pid:N or a path.
func InNamespace(target string, prog ...string) Command {
	if pid, ok := shownAs(target); ok {
		target = "pid:" + strconv.Itoa(pid)
	}
	var c Command
	switch {
	case strings.HasPrefix(target, "pid:"):
		c = Command{"nsenter", "-t", strings.TrimPrefix(target, "pid:"), "-n"}
	case strings.HasPrefix(target, "/"):
		c = Command{"nsenter", "--net=" + target}
	default:
		c = Command{"ip", "netns", "exec", target}
	}
	return append(c, prog...)
}

// IP is an iproute2 command acting on a namespace target: `ip -n NAME`
// for a name, `nsenter ... ip` otherwise.
func IP(target string, args ...string) Command {
	if IsNamed(target) {
		return append(Command{"ip", "-n", target}, args...)
	}
	return InNamespace(target, append([]string{"ip"}, args...)...)
}

// Route is `ip route VERB DST dev DEV` in a namespace target, with -6
// for an IPv6 destination: the device route setup adds and fixes replace.
func Route(target, verb string, dst netip.Prefix, dev string) Command {
	var args []string
	if dst.Addr().Is6() {
		args = append(args, "-6")
	}
	return IP(target, append(args, "route", verb, dst.String(), "dev", dev)...)
}

// IsNamed reports whether a target is a plain name under /run/netns, the
// only kind `ip -n` and `ip netns exec` take: not pid:N, a path, a
// container target (docker:web, pod:shop/cart) or a name ShowAs gave a
// process.
func IsNamed(target string) bool {
	if strings.HasPrefix(target, "pid:") || strings.HasPrefix(target, "/") {
		return false
	}
	if engine, _, ok := strings.Cut(target, ":"); ok && slices.Contains(containerEngines, engine) {
		return false
	}
	_, shown := shownAs(target)
	return !shown
}

// containerEngines are the prefixes of container targets
// (docs/containers.md).
var containerEngines = []string{"docker", "podman", "containerd", "pod"}

// processOf maps the names the running command shows containers'
// namespaces by (web, pod:shop/cart) to a process in each: iproute2 takes
// no container name, so commands enter them by the process, nsenter -t PID
// -n. The map is the command's own: facts read back from a file have none.
var processOf = struct {
	sync.Mutex
	m map[string]int
}{m: map[string]int{}}

// ShowAs records that the namespace shown as name is entered through
// process pid, until undo is called.
func ShowAs(name string, pid int) (undo func()) {
	processOf.Lock()
	defer processOf.Unlock()
	processOf.m[name] = pid
	return func() {
		processOf.Lock()
		defer processOf.Unlock()
		if processOf.m[name] == pid {
			delete(processOf.m, name)
		}
	}
}

func shownAs(name string) (int, bool) {
	processOf.Lock()
	defer processOf.Unlock()
	pid, ok := processOf.m[name]
	return pid, ok
}

// nftMaxName is NFT_NAME_MAXLEN without the terminating NUL.
const nftMaxName = 255

// NftName checks a table or chain name for an nft command line. nft's
// parser (1.0.6, Debian 12's) reads such a name only as an identifier: a
// letter, _ or ., then letters, digits and /-_. ; it refuses a quoted
// string there ("unexpected quoted string, expecting string"). The kernel
// takes any name, so a rule in a table named otherwise cannot be named to
// nft at all, and gets no command.
func NftName(name string) error {
	if name == "" || len(name) > nftMaxName || !isNftIdent(name) {
		return fmt.Errorf("nftables name %q: not an identifier nft reads: %w", name, ErrName)
	}
	return nil
}

// isNftIdent reports whether nft's scanner reads s as one identifier
// (scanner.l's string: letter or _ or ., then letters, digits, /-_.).
func isNftIdent(s string) bool {
	for i, r := range s {
		letter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '_' || r == '.'
		if !letter && (i == 0 || !('0' <= r && r <= '9' || r == '/' || r == '-')) {
			return false
		}
	}
	return true
}

// nftFamilies are the address families nft takes.
var nftFamilies = []string{"ip", "ip6", "inet", "arp", "bridge", "netdev"}

// NftFamily checks an nftables family name.
func NftFamily(f string) error {
	for _, g := range nftFamilies {
		if f == g {
			return nil
		}
	}
	return fmt.Errorf("nftables family %q: %w", f, ErrName)
}

// iptablesMaxChain is XT_EXTENSION_MAXNAMELEN without the terminating NUL.
const iptablesMaxChain = 28

// IptablesChain checks a chain name as iptables takes it on its command
// line: at most 28 bytes, printable, no blank, not an option.
func IptablesChain(name string) error {
	switch {
	case name == "" || len(name) > iptablesMaxChain:
		return fmt.Errorf("iptables chain %q: empty or longer than %d bytes: %w", name, iptablesMaxChain, ErrName)
	case name[0] == '-' || name[0] == '!':
		return fmt.Errorf("iptables chain %q starts like an option: %w", name, ErrName)
	case strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return fmt.Errorf("iptables chain %q holds a blank or a control character: %w", name, ErrName)
	}
	return nil
}

// IptablesTable checks a table name against the tables iptables has.
func IptablesTable(name string) error {
	switch name {
	case "filter", "nat", "mangle", "raw", "security":
		return nil
	}
	return fmt.Errorf("iptables table %q: %w", name, ErrName)
}
