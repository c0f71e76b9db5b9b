package netfilter

import (
	"errors"
	"fmt"
	"sort"

	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// Leftover is a table that an nsdump run killed before it could remove it
// may have left: its record names the namespace (inode and cookie) and the
// table, and the run is gone.
type Leftover struct {
	Table Table
	Inode uint64
	PID   int
}

// Leftovers lists the records of runs that are gone. It reads only the
// state directory: whether the table is still there is RemoveLeftovers'
// business (an owner-bound table went with its run's socket).
func Leftovers() []Leftover {
	var out []Leftover
	for _, r := range readRecords() {
		if !r.Alive() {
			out = append(out, Leftover{Table: r.Table, Inode: r.Inode, PID: r.PID})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table.Name < out[j].Table.Name })
	return out
}

// RemoveLeftovers deletes the tables that runs which are gone recorded, in
// the very namespace each was made in (the same inode and cookie, found
// among every namespace of the host), and drops their records. It returns
// one line per table deleted; a record whose namespace or table is gone is
// dropped silently.
func RemoveLeftovers() ([]string, error) {
	var dead []record
	for _, r := range readRecords() {
		if !r.Alive() {
			dead = append(dead, r)
		}
	}
	if len(dead) == 0 {
		return nil, nil
	}
	found, err := topology.AllNamespaces()
	if err != nil {
		return nil, fmt.Errorf("find the namespaces of leftover nftables tables: %w", err)
	}
	var done []string
	var errs []error
	for _, r := range dead {
		d, err := removeLeftover(r, found)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d != "" {
			done = append(done, d)
		}
		errs = append(errs, r.remove())
	}
	return done, errors.Join(errs...)
}

// removeLeftover deletes r's table if its namespace is still there.
func removeLeftover(r record, found []*topology.Found) (string, error) {
	for _, f := range found {
		if f.Inode != r.Inode {
			continue
		}
		ns, err := f.Open()
		if err != nil {
			return "", fmt.Errorf("open namespace %s of leftover table %s: %w", f.Display(), r.Table, err)
		}
		defer ns.Close()
		id, err := topology.IdentityOf(ns)
		if err != nil || id != r.Identity {
			return "", nil // another namespace on a reused inode: not ours to touch
		}
		c, err := dial(ns)
		if err != nil {
			return "", fmt.Errorf("delete leftover table %s in %s: %w", r.Table, f.Display(), err)
		}
		defer c.close()
		err = c.batch([]message{delTableMsg(r.Table)})
		if errors.Is(err, unix.ENOENT) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("delete leftover table %s in %s: %w", r.Table, f.Display(), err)
		}
		return fmt.Sprintf("nft delete table %s (in %s)", r.Table, f.Display()), nil
	}
	return "", nil // the namespace is gone, and its tables with it
}
