package netfilter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nsdump/nsdump/topology"
)

// record says that process PID (started at Start: PIDs are reused) is
// creating, or has created, Table in the namespace with Identity. It is
// written before the table is made and removed after it is gone, so a kill
// at any instant leaves a record for every table it could have left.
type record struct {
	Table Table `json:"table"`
	topology.Identity
	topology.Owner
}

// stateDir is topology's (/run/nsdump, or NSDUMP_STATE_DIR): one place for
// everything a killed run can leave.
func stateDir() string {
	if d := os.Getenv("NSDUMP_STATE_DIR"); d != "" {
		return d
	}
	return topology.StateDir
}

func recordDir() string { return filepath.Join(stateDir(), "nftables") }

func (r record) file() string {
	return filepath.Join(recordDir(), fmt.Sprintf("%d-%s-%s", r.Inode, r.Table.Family, r.Table.Name))
}

// write stores r atomically: a kill leaves the whole record or none.
func (r record) write() error {
	fail := func(err error) error { return fmt.Errorf("record nftables table %s: %w", r.Table, err) }
	if err := os.MkdirAll(recordDir(), 0o700); err != nil {
		return fail(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(recordDir(), ".record-*")
	if err != nil {
		return fail(err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), r.file())
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fail(err)
	}
	return nil
}

func (r record) remove() error {
	if err := os.Remove(r.file()); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove the record of nftables table %s: %w", r.Table, err)
	}
	return nil
}

// readRecords returns every well-formed record. A temporary file (a write
// killed before its rename) is skipped: it claims nothing, since the table
// is made only after the rename.
func readRecords() []record {
	entries, _ := os.ReadDir(recordDir())
	var out []record
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(recordDir(), e.Name()))
		if err != nil {
			continue
		}
		var r record
		if json.Unmarshal(b, &r) != nil || filepath.Base(r.file()) != e.Name() || !ownTable(r.Table.Name) {
			continue
		}
		out = append(out, r)
	}
	return out
}

func newRecord(t Table, id topology.Identity) record {
	return record{Table: t, Identity: id, Owner: topology.Self()}
}
