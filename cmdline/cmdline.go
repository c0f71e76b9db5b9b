package cmdline

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
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
		if engineWord.MatchString(w) {
			q[i] = w
		}
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
// NAME` for a name under /run/netns, nsenter for pid:N or a path, and for
// a Docker or Podman container's namespace nsenter by the pid its engine
// gives when the command is run (ShowContainer).
func InNamespace(target string, prog ...string) Command {
	var c Command
	e, shown := shownAs(target)
	switch {
	case shown && e.engine != "":
		c = Command{"nsenter", "-t", enginePID(e.engine, e.name), "-n"}
	case shown:
		c = Command{"nsenter", "-t", strconv.Itoa(e.pid), "-n"}
	case strings.HasPrefix(target, "pid:"):
		c = Command{"nsenter", "-t", strings.TrimPrefix(target, "pid:"), "-n"}
	case strings.HasPrefix(target, "/"):
		c = Command{"nsenter", "--net=" + target}
	default:
		c = Command{"ip", "netns", "exec", target}
	}
	return append(c, prog...)
}

// enginePID is the one word a command carries unquoted: the shell asks
// the engine for the container's process when the command runs, so a
// fix stays right after the container restarts (a printed pid would then
// name whatever holds that number). Stopped, the engine says pid 0 and
// nsenter refuses.
func enginePID(engine, name string) string {
	return `"$(` + engine + ` inspect -f '{{.State.Pid}}' ` + name + `)"`
}

// engineWord is what enginePID makes, and nothing else: the only words
// String leaves unquoted though they hold characters a shell reads.
// Expanded, it runs `docker|podman inspect` on a container name (letters,
// digits, _ . -), which runs nothing else whatever a file held.
var engineWord = regexp.MustCompile(`^"\$\((docker|podman) inspect -f '\{\{\.State\.Pid\}\}' [A-Za-z0-9][A-Za-z0-9_.-]*\)"$`)

// ContainerEngines are the engines whose containers a command enters by
// name (ShowContainer): their CLIs inspect a container by its name.
var ContainerEngines = []string{"docker", "podman"}

// ValidContainerName says whether a Docker or Podman name can be carried
// into a command unquoted (what both engines accept for names).
func ValidContainerName(name string) bool {
	return containerName.MatchString(name)
}

var containerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

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
// namespaces by (web, pod:shop/cart) to how commands enter each: iproute2
// takes no container name, so they enter by a process, nsenter -t PID -n,
// or for Docker and Podman by the pid the engine gives then. The map is
// the command's own: facts read back from a file fill it from the
// containers they recorded (ShowContainer).
var processOf = struct {
	sync.Mutex
	m map[string][]entry // the latest shown last: two commands' holds may overlap
}{m: map[string][]entry{}}

// entry is how commands enter a namespace shown by a container's name: by
// pid, or by the engine and the container's name.
type entry struct {
	pid          int
	engine, name string
}

// ShowAs records that the namespace shown as name is entered through
// process pid, until undo is called.
func ShowAs(name string, pid int) (undo func()) {
	return show(name, entry{pid: pid})
}

// ShowContainer records that the namespace shown as shown is the Docker
// or Podman container name's, entered by the pid the engine gives when a
// printed command runs, until undo is called. It refuses (ErrName) an
// engine other than docker and podman or a name their CLIs would not take.
func ShowContainer(shown, engine, name string) (undo func(), err error) {
	if !slices.Contains(ContainerEngines, engine) || !ValidContainerName(name) {
		return nil, fmt.Errorf("container %s %q: %w", engine, name, ErrName)
	}
	return show(shown, entry{engine: engine, name: name}), nil
}

func show(name string, e entry) (undo func()) {
	processOf.Lock()
	defer processOf.Unlock()
	processOf.m[name] = append(processOf.m[name], e)
	return func() {
		processOf.Lock()
		defer processOf.Unlock()
		es := processOf.m[name]
		if i := slices.Index(es, e); i >= 0 {
			es = slices.Delete(es, i, i+1)
		}
		if len(es) == 0 {
			delete(processOf.m, name)
			return
		}
		processOf.m[name] = es
	}
}

func shownAs(name string) (entry, bool) {
	processOf.Lock()
	defer processOf.Unlock()
	es := processOf.m[name]
	if len(es) == 0 {
		return entry{}, false
	}
	return es[len(es)-1], true
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
