package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nsdump/nsdump/cmdline"
	"golang.org/x/sys/unix"
)

// StateDir holds nsdump's lock and its records of the namespaces it is
// creating, or created for a run that removes them itself (the demo's lab),
// so that a run killed with SIGKILL leaves something the next one can
// recognise. NSDUMP_STATE_DIR moves it (tests and scripts use their own).
const StateDir = "/run/nsdump"

func stateDir() string {
	if d := os.Getenv("NSDUMP_STATE_DIR"); d != "" {
		return d
	}
	return StateDir
}

// lockLabs serialises changes to labs across nsdump processes: two setups
// at once, or the first use of /run/netns on a fresh machine racing. Every
// record is written and removed under it.
func lockLabs() (unlock func(), err error) {
	dir := stateDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	fd, err := unix.Open(filepath.Join(dir, "lock"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lab lock: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(fd, unix.LOCK_UN); unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			unix.Close(fd)
			return nil, fmt.Errorf("lock %s/lock (another nsdump changing a lab?): %w", dir, err)
		}
		time.Sleep(5 * time.Millisecond) // flock has no timeout; this bounds the wait
	}
}

// record says that process PID (started at Start, in clock ticks after boot:
// PIDs are reused) made, or is making, the namespace Namespace with the
// given identity. It is written before /run/netns/NAME exists, so whatever a
// kill leaves there is claimed. A transient record lives as long as the
// namespace (the demo removes its lab itself); any other is removed as soon
// as the namespace is mounted.
type record struct {
	Namespace string `json:"namespace"`
	Owner
	Identity
	Transient bool `json:"transient"`
}

func recordDir() string { return filepath.Join(stateDir(), "ns") }

func newRecord(name string, id Identity, transient bool) record {
	return record{Namespace: name, Owner: Self(), Identity: id, Transient: transient}
}

// writeRecord replaces the record of r.Namespace atomically: a kill leaves
// the old record or the new one, never half of one.
func writeRecord(r record) error {
	dir := recordDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("record namespace %q: %w", r.Namespace, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record namespace %q: %w", r.Namespace, err)
	}
	tmp, err := os.CreateTemp(stateDir(), ".record-*")
	if err != nil {
		return fmt.Errorf("record namespace %q: %w", r.Namespace, err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, r.Namespace))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("record namespace %q: %w", r.Namespace, err)
	}
	return nil
}

func removeRecord(name string) {
	os.Remove(filepath.Join(recordDir(), name))
}

// readRecords returns every well-formed record; a torn temporary file is
// never read (records appear by rename).
func readRecords() []record {
	entries, _ := os.ReadDir(recordDir())
	var out []record
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(recordDir(), e.Name()))
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(b, &r) != nil || r.Namespace != e.Name() || ValidateNamespace(r.Namespace) != nil {
			continue
		}
		out = append(out, r)
	}
	return out
}

func readRecord(name string) (record, bool) {
	for _, r := range readRecords() {
		if r.Namespace == name {
			return r, true
		}
	}
	return record{}, false
}

// Owner is the process that wrote a record of what it made: its PID and
// its start time (PIDs are reused; the pair names one process for the
// whole uptime). netfilter's table records carry one too.
type Owner struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Self is this process as an Owner.
func Self() Owner {
	pid := os.Getpid()
	start, _ := processStart(pid)
	return Owner{PID: pid, Start: start}
}

// Alive reports whether the process that wrote the record still runs.
func (o Owner) Alive() bool {
	start, err := processStart(o.PID)
	return err == nil && start == o.Start
}

// processStart reads field 22 of /proc/PID/stat, the start time, which with
// the PID names one process for the whole uptime.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// recordState is what a record's name holds now.
type recordState int

const (
	recGone     recordState = iota // nothing: the creation never got that far, or it was removed
	recHalfMade                    // an empty file where the namespace mount should be
	recComplete                    // the very namespace the record names (same cookie)
	recReplaced                    // something else: the name was reused, or the kernel has no cookies
)

func (r record) state() recordState {
	switch entryState(r.Namespace) {
	case entryMissing:
		return recGone
	case entryHalfMade:
		return recHalfMade
	case entryNamespace:
		id, err := NamespaceIdentity(r.Namespace)
		if err == nil && r.Cookie != 0 && id == r.Identity {
			return recComplete
		}
	}
	return recReplaced
}

// Leftover is what a killed nsdump run left under /run/netns.
type Leftover struct {
	Namespace string
	PID       int
	// HalfMade: an empty file, not a namespace, where the run was killed
	// between creating the mount point and mounting the namespace on it.
	HalfMade bool
}

// Leftovers lists what nsdump runs that were killed left behind: namespaces
// a demo created for itself (the very same ones: same cookie, not merely a
// reused name or inode), and empty mount points of interrupted creations. It
// changes nothing.
func Leftovers() []Leftover {
	var out []Leftover
	for _, r := range readRecords() {
		if r.Alive() {
			continue
		}
		switch r.state() {
		case recComplete:
			if r.Transient {
				out = append(out, Leftover{Namespace: r.Namespace, PID: r.PID})
			}
		case recHalfMade:
			out = append(out, Leftover{Namespace: r.Namespace, PID: r.PID, HalfMade: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

// RemoveLeftovers deletes what Leftovers reports, and nothing else: a
// namespace only when its cookie is the one recorded at its creation.
func RemoveLeftovers() ([]string, error) {
	unlock, err := lockLabs()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var done []string
	for _, r := range readRecords() {
		d, err := settle(r, true)
		done = append(done, d...)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// repair puts the names back in a state setup and teardown understand: a
// record of a dead process that claims nothing is dropped, and an empty
// mount point is removed, whoever left it (nsdump or `ip netns add` killed
// between creating it and mounting on it; no namespace is ever lost: unlink
// fails on a mount point). Transient namespaces of dead runs stay. Callers
// hold the lock.
func repair(names ...string) ([]string, error) {
	var done []string
	for _, n := range names {
		if r, ok := readRecord(n); ok {
			d, err := settle(r, false)
			done = append(done, d...)
			if err != nil {
				return done, err
			}
		}
		if entryState(n) == entryHalfMade {
			if err := removeHalfMade(n); err != nil {
				return done, err
			}
			done = append(done, halfMadeDone(n))
		}
	}
	return done, nil
}

// settle resolves the record of a dead process: a half-made mount point is
// removed, a transient namespace too when removeTransient is set, and the
// record is dropped once it claims nothing. Callers hold the lock.
func settle(r record, removeTransient bool) ([]string, error) {
	if r.Alive() {
		return nil, nil
	}
	switch r.state() {
	case recHalfMade:
		if err := removeHalfMade(r.Namespace); err != nil {
			return nil, err
		}
		removeRecord(r.Namespace)
		return []string{halfMadeDone(r.Namespace)}, nil
	case recComplete:
		if !r.Transient {
			removeRecord(r.Namespace) // a setup killed after it mounted the namespace: the user's lab now
			return nil, nil
		}
		if !removeTransient {
			return nil, nil
		}
		if err := DeleteNamespace(r.Namespace); err != nil {
			return nil, err
		}
		removeRecord(r.Namespace)
		return []string{cmdline.Command{"ip", "netns", "del", r.Namespace}.String()}, nil
	}
	removeRecord(r.Namespace)
	return nil, nil
}

// HandOver makes the namespaces this process created for itself ordinary
// ones, as if `nsdump setup` had made them: no longer reported or removed
// as leftovers (demo --keep).
func HandOver(names ...string) error {
	unlock, err := lockLabs()
	if err != nil {
		return err
	}
	defer unlock()
	for _, n := range names {
		if r, ok := readRecord(n); ok && r.PID == os.Getpid() {
			removeRecord(n)
		}
	}
	return nil
}
