package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/nsdump/nsdump/containers"
	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
)

// containerNamespace is one entry of `ls --containers`: a network
// namespace and every container in it (a pod's share one).
type containerNamespace struct {
	*topology.Namespace
	Containers []containers.Container `json:"containers"`
}

func lsContainers(ctx context.Context, e env, asJSON bool) error {
	all, errs := containers.List(ctx)
	for _, err := range errs {
		fmt.Fprintf(e.stderr, "nsdump: warning: %v\n", err)
	}
	out := inspectContainers(e, all)
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"namespaces": out})
	}
	if len(out) == 0 {
		fmt.Fprintln(e.stdout, "no running containers (Docker, Podman, containerd, CRI-O; docs/containers.md says where nsdump looks)")
	}
	for i, c := range out {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printContainerNamespace(e.stdout, c)
	}
	return nil
}

// inspectContainers holds and inspects each container's namespace, a few
// at a time, and groups the containers that share one.
func inspectContainers(e env, all []containers.Container) []containerNamespace {
	ts := topology.NewTargets()
	spaces := make([]*topology.Namespace, len(all))
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			n, err := ts.HoldContainer(c)
			if err != nil {
				errs[i] = err
				return
			}
			defer n.Close()
			spaces[i], errs[i] = ts.Inspect(n.Name)
		}()
	}
	wg.Wait()
	byInode := map[uint64]*containerNamespace{}
	out := []containerNamespace{}
	for i, c := range all {
		if errs[i] != nil {
			fmt.Fprintf(e.stderr, "nsdump: skipping %s: %v\n", c.Target(), errs[i])
			continue
		}
		if g, ok := byInode[spaces[i].Inode]; ok {
			g.Containers = append(g.Containers, c)
			continue
		}
		out = append(out, containerNamespace{Namespace: spaces[i], Containers: []containers.Container{c}})
		byInode[spaces[i].Inode] = &out[len(out)-1]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func printContainerNamespace(w io.Writer, c containerNamespace) {
	var buf strings.Builder
	printNamespace(&buf, c.Namespace)
	first, rest, _ := strings.Cut(buf.String(), "\n")
	fmt.Fprintln(w, first)
	for _, x := range c.Containers {
		line := fmt.Sprintf("  %s %s id %s pid %d", x.Engine, decode.Printable(x.Name), shortID(x.ID), x.PID)
		if x.PodName != "" {
			line += fmt.Sprintf(" pod %s/%s", decode.Printable(x.PodNamespace), decode.Printable(x.PodName))
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprint(w, rest)
}

// shortID is an id as `docker ps` shows it.
func shortID(id string) string {
	if len(id) == 64 {
		return id[:12]
	}
	return id
}
