package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/nsdump/nsdump/topology"
)

// maxHolders is how many processes ls --all names per namespace.
const maxHolders = 5

// holder is a process inside a namespace.
type holder struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
}

// hostNamespace is one entry of `ls --all`: what ls shows of a namespace,
// and what keeps it alive.
type hostNamespace struct {
	*topology.Namespace
	Named      bool     `json:"named"`
	Processes  []holder `json:"processes"`
	NProcesses int      `json:"processes_total"`
	Mounts     []string `json:"mounts,omitempty"`
}

func lsAll(e env, asJSON bool) error {
	found, err := topology.AllNamespaces()
	if err != nil {
		return err
	}
	out := []hostNamespace{}
	for _, f := range found {
		ns, err := inspectFound(f)
		if err != nil {
			fmt.Fprintf(e.stderr, "nsdump: skipping net:[%d]: %v\n", f.Inode, err)
			continue
		}
		h := hostNamespace{Namespace: ns, Named: f.Name != "", Mounts: f.Mounts, NProcesses: len(f.PIDs), Processes: []holder{}}
		for _, pid := range f.PIDs[:min(len(f.PIDs), maxHolders)] {
			h.Processes = append(h.Processes, holder{PID: pid, Comm: comm(pid)})
		}
		out = append(out, h)
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"namespaces": out})
	}
	for i, h := range out {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printHostNamespace(e.stdout, h)
	}
	return nil
}

// inspectFound holds the namespace for the time of its inspection, by the
// path it was found through, and shows it by its display name.
func inspectFound(f *topology.Found) (*topology.Namespace, error) {
	ts := topology.NewTargets()
	n, err := ts.Hold(f.Spec())
	if err != nil {
		return nil, err
	}
	defer n.Close()
	return ts.Inspect(n.Name)
}

func printHostNamespace(w io.Writer, h hostNamespace) {
	var who []string
	for _, p := range h.Processes {
		who = append(who, fmt.Sprintf("%d %s", p.PID, p.Comm))
	}
	if more := h.NProcesses - len(h.Processes); more > 0 {
		who = append(who, fmt.Sprintf("and %d more", more))
	}
	var held []string
	if len(who) > 0 {
		held = append(held, "processes: "+strings.Join(who, ", "))
	}
	if len(h.Mounts) > 0 {
		held = append(held, "mounted at "+strings.Join(h.Mounts, ", "))
	}
	if !h.Named && len(held) == 0 {
		held = append(held, "no process, no mount")
	}
	var buf strings.Builder
	printNamespace(&buf, h.Namespace)
	first, rest, _ := strings.Cut(buf.String(), "\n")
	fmt.Fprintln(w, first)
	if len(held) > 0 {
		fmt.Fprintf(w, "  %s\n", strings.Join(held, "; "))
	}
	fmt.Fprint(w, rest)
}

// comm is a process's command name, as ps shows it.
func comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
