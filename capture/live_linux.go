package capture

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nsdump/nsdump/topology"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Target is what to capture: every non-loopback interface of a namespace
// (Interface empty) or one interface.
type Target struct {
	Namespace, Interface string
	// Link, when set, is the interface already looked up (capture --all
	// lists every namespace's links once): Open does not ask again.
	Link *topology.Interface
	// Container, when the target named one ("docker:web"), goes into the
	// file's interface descriptions (PointInfo.Container).
	Container string
}

// ParseTarget reads NS or NS/IFACE, checking both names; NS is any
// namespace target (a name, pid:N, a path to a namespace file).
func ParseTarget(s string) (Target, error) {
	ns, ifc, err := topology.SplitTarget(s)
	if err != nil {
		return Target{}, err
	}
	return Target{Namespace: ns, Interface: ifc}, nil
}

// Config tunes the rings; nil means defaults.
type Config struct {
	SnapLen int // default MaxSnapLen
	// RingSize is the ring of each capture point, in bytes (tcpdump's -B,
	// times 1024). Zero adapts it to the number of points (see AdaptRing),
	// unless BlockSize and NumBlocks give the shape outright.
	RingSize int
	// SkipVanished skips, instead of failing, a target or point that cannot
	// be opened (capture --all: namespaces and interfaces come and go).
	SkipVanished bool
	BlockSize    int
	NumBlocks    int
	PollTimeout  time.Duration // default 100ms: how soon a cancelled capture stops
	// Filter, compiled for Ethernet, runs on every socket, compiled again
	// from its expression for a point of another link type (a tun device's
	// frames are IP packets); frames queued before it was attached are
	// checked again in userland, as libpcap does.
	Filter *Filter
	// Targets are the namespaces the command holds open: a point's
	// namespace is reached through them, never found again by its name;
	// nil opens each by name.
	Targets *topology.Targets
}

func (c *Config) withDefaults() Config {
	out := Config{SnapLen: MaxSnapLen, PollTimeout: 100 * time.Millisecond}
	if c != nil {
		if c.SnapLen > 0 {
			out.SnapLen = min(c.SnapLen, MaxSnapLen)
		}
		if c.BlockSize > 0 {
			out.BlockSize = c.BlockSize
		}
		if c.NumBlocks > 0 {
			out.NumBlocks = c.NumBlocks
		}
		out.RingSize = c.RingSize
		out.SkipVanished = c.SkipVanished
		if c.PollTimeout > 0 {
			out.PollTimeout = c.PollTimeout
		}
		out.Filter = c.Filter
		out.Targets = c.Targets
	}
	return out
}

// Stats are the kernel's counters over all sockets of a session.
type Stats struct {
	Captured int // frames handed to the caller
	Received int // tp_packets: frames that passed the socket filter, drops included
	Dropped  int // tp_drops
}

type source struct {
	ns, ifc string
	ts      *topology.Targets // that hold ns (Config.Targets)
	nsIno   uint64            // the namespace's inode when opened, to notice its removal
	point   Point
	ring    *rxRing
	filter  *Filter // Config.Filter compiled for the point's link type
}

// Session is a set of open AF_PACKET sockets, one per capture point.
type Session struct {
	cfg     Config
	sources []*source
	mu      sync.Mutex
	skipped []error
}

// Open resolves the targets and opens a TPACKET_V3 socket inside each
// namespace, bound to its interface. The sockets keep their namespace and
// are read from ordinary goroutines.
func Open(targets []Target, cfg *Config) (*Session, error) {
	s := &Session{cfg: cfg.withDefaults()}
	type point struct {
		ns, container string
		ifc           topology.Interface
	}
	found := make([][]topology.Interface, len(targets))
	err := parallel(len(targets), func(i int) error {
		var err error
		found[i], err = interfaces(s.cfg.Targets, targets[i])
		return s.skip(err)
	})
	if err != nil {
		return nil, err
	}
	var points []point
	for i, t := range targets {
		for _, ifc := range found[i] {
			points = append(points, point{t.Namespace, t.Container, ifc})
		}
	}
	s.cfg.shapeRing(len(points))
	// Each socket waits out RCU grace periods in the kernel (its ring and
	// its bind re-register the packet hook): opened one after the other, a
	// hundred namespaces took seconds; at once, the waits overlap.
	s.sources = make([]*source, len(points))
	err = parallel(len(points), func(i int) error {
		var err error
		s.sources[i], err = s.open(points[i].ns, points[i].container, points[i].ifc)
		return s.skip(err)
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.sources = slices.DeleteFunc(s.sources, func(src *source) bool { return src == nil })
	if len(s.sources) == 0 {
		return nil, errors.New("no interface to capture on")
	}
	return s, nil
}

func interfaces(ts *topology.Targets, t Target) ([]topology.Interface, error) {
	if t.Link != nil {
		return []topology.Interface{*t.Link}, nil
	}
	links, err := ts.LinksWithPeers(t.Namespace)
	if err != nil {
		return nil, err
	}
	var out []topology.Interface
	for _, i := range links {
		if t.Interface == i.Name || t.Interface == "" && i.Name != "lo" {
			out = append(out, i)
		}
	}
	if t.Interface != "" && len(out) == 0 {
		return nil, fmt.Errorf("no interface %q in namespace %q (see nsdump ls %s)", t.Interface, t.Namespace, t.Namespace)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("namespace %q has no interface but lo", t.Namespace)
	}
	return out, nil
}

func (s *Session) open(nsName, container string, ifc topology.Interface) (*source, error) {
	ns, err := s.cfg.Targets.OpenNamespace(nsName)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	ino, _ := topology.Inode(ns)
	if container == "" {
		container = s.cfg.Targets.Container(nsName)
	}
	src := &source{ns: nsName, ifc: ifc.Name, ts: s.cfg.Targets, nsIno: ino, point: Point{
		Name:        nsName + "/" + ifc.Name,
		Description: pointInfo(nsName, container, ino, ifc).Description(),
		SnapLen:     uint32(s.cfg.SnapLen),
	}}
	frame := 1 << 16
	for frame < s.cfg.SnapLen+128 && frame < s.cfg.BlockSize {
		frame <<= 1
	}
	// Said as it is: the point's link type, or its filter, does not fit.
	var refused error
	err = topology.Do(ns, func() error {
		var err error
		if src.point.LinkType, refused = pointLinkType(ifc.Name, nsName); refused != nil {
			return nil
		}
		if src.filter, refused = s.cfg.Filter.forLink(src.point.LinkType, src.point.Name); refused != nil {
			return nil
		}
		// A program longer than the kernel takes runs in userland only
		// (the caller warns once).
		var prog []bpf.RawInstruction
		if src.filter != nil && src.filter.FitsKernel() {
			prog = src.filter.Prog
		}
		src.ring, err = openRxRing(ifc.Index, s.cfg.BlockSize, s.cfg.NumBlocks, frame, blockTimeout, prog)
		return err
	})
	if refused != nil {
		return nil, refused
	}
	if err != nil {
		return nil, fmt.Errorf("open AF_PACKET socket on %s: %w", src.point.Name, err)
	}
	return src, nil
}

// ErrVanished marks a capture point whose namespace or interface went away.
var ErrVanished = errors.New("gone")

// skip keeps err from failing Open when the config says to skip points
// that vanish: it is recorded for Skipped instead.
func (s *Session) skip(err error) error {
	if err == nil || !s.cfg.SkipVanished {
		return err
	}
	s.mu.Lock()
	s.skipped = append(s.skipped, err)
	s.mu.Unlock()
	return nil
}

// Skipped are the errors of the points Open skipped (Config.SkipVanished).
func (s *Session) Skipped() []error { return s.skipped }

// Points lists the capture points in the order Frame.Point indexes them.
func (s *Session) Points() []Point {
	out := make([]Point, len(s.sources))
	for i, src := range s.sources {
		out[i] = src.point
	}
	return out
}

// Close releases sockets that Run never started reading.
func (s *Session) Close() {
	for _, src := range s.sources {
		if src != nil && src.ring != nil {
			src.ring.close()
			src.ring = nil
		}
	}
}

// blockTimeout is how long the kernel keeps a ring block that holds a
// frame before handing it over unfilled: the longest a frame waits in the
// kernel, and so about the longest the merge waits for a quiet socket.
const blockTimeout = 10 * time.Millisecond

// checkEvery is how often a capture checks that its namespace
// still has its name.
const checkEvery = 250 * time.Millisecond

// namespaceThere checks that a named capture point's namespace still has
// its name under /run/netns, the same namespace as when the capture
// started.
func (src *source) namespaceThere() error {
	if !topology.IsNamed(src.ns) {
		return nil // pid:N or a path: no name to lose
	}
	var st unix.Stat_t
	if err := unix.Stat(topology.NamespacePath(src.ns), &st); err != nil || src.nsIno != 0 && st.Ino != src.nsIno {
		return fmt.Errorf("capture on %s: namespace %q was removed: %w", src.point.Name, src.ns, ErrVanished)
	}
	return nil
}

// stillThere checks that the capture point's namespace and interface exist.
func (src *source) stillThere() error {
	links, err := src.ts.Links(src.ns)
	if err != nil {
		return fmt.Errorf("capture on %s: %w: %w", src.point.Name, err, ErrVanished)
	}
	for _, l := range links {
		if l.Name == src.ifc {
			return nil
		}
	}
	return fmt.Errorf("capture on %s: interface %s vanished from namespace %q: %w", src.point.Name, src.ifc, src.ns, ErrVanished)
}

// pointInfo is what the file says of a capture point on ifc.
func pointInfo(ns, container string, ino uint64, ifc topology.Interface) PointInfo {
	info := PointInfo{Namespace: ns, Inode: ino, Container: container, Kind: ifc.Kind, Master: ifc.Master}
	if ifc.Peer != nil {
		info.Peer = ifc.Peer.String()
	}
	return info
}
