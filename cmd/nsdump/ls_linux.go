package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nsdump/nsdump/decode"
	"github.com/nsdump/nsdump/topology"
)

func runLs(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "ls")
	asJSON := fs.Bool("json", false, "print JSON")
	allHost := fs.Bool("all", false, "every network namespace on the host, named or not (held by processes or bind mounts)")
	withContainers := fs.Bool("containers", false, "every running container (Docker, Podman, containerd, CRI-O) and its namespace")
	if err := parse(fs, args); err != nil {
		return err
	}
	names := fs.Args()
	switch {
	case *allHost && *withContainers:
		return errors.New("ls takes --all or --containers, not both")
	case *allHost && len(names) > 0:
		return fmt.Errorf("ls --all takes no namespaces, got %q", names[0])
	case *withContainers && len(names) > 0:
		return fmt.Errorf("ls --containers takes no namespaces, got %q (nsdump ls NAME shows one)", names[0])
	}
	if err := validateTargets(names); err != nil {
		return err
	}
	if err := topology.CheckPrivileges(); err != nil {
		return err
	}
	if *allHost {
		return lsAll(e, *asJSON)
	}
	if *withContainers {
		return lsContainers(ctx, e, *asJSON)
	}
	return lsNamed(e, names, *asJSON)
}

// lsNamed shows the namespaces named, or every one under /run/netns
// when none is named (those that cannot be read are skipped, with a
// warning, only then).
func lsNamed(e env, names []string, asJSON bool) error {
	warned := warnLeftovers(e)
	all := len(names) == 0
	ts := topology.NewTargets()
	if all {
		var err error
		if names, err = topology.ListNamespaces(); err != nil {
			return err
		}
	} else {
		held, release, err := holdTargets(ts, names)
		if err != nil {
			return err
		}
		defer release()
		for i, n := range held {
			names[i] = n.Name
		}
	}
	out := []*topology.Namespace{}
	var skipped []string
	for _, n := range names {
		ns, err := ts.Inspect(n)
		switch {
		case err == nil:
			out = append(out, ns)
		case !all:
			return err
		case errors.Is(err, topology.ErrNotNamespace):
			if !warned[n] {
				skipped = append(skipped, n)
			}
		case errors.Is(err, topology.ErrNoNamespace):
			// removed while we listed: nothing to show
		default:
			fmt.Fprintf(e.stderr, "nsdump: warning: skipped %s: %v\n", n, err)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(e.stderr, "nsdump: warning: skipped %s under %s: not a namespace (an empty file left by an interrupted `ip netns add` or nsdump setup); nsdump teardown --ns0 NAME or ip netns del NAME removes it\n",
			strings.Join(skipped, ", "), topology.RunDir)
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"namespaces": out})
	}
	if len(out) == 0 {
		fmt.Fprintln(e.stdout, "no named network namespaces (nsdump setup builds the lab)")
	}
	for i, ns := range out {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		printNamespace(e.stdout, ns)
	}
	return nil
}

func printNamespace(w io.Writer, ns *topology.Namespace) {
	fmt.Fprintf(w, "%s (net:[%d])\n", decode.Printable(ns.Name), ns.Inode)
	for _, i := range ns.Interfaces {
		state := "DOWN"
		if i.Up {
			state = "UP"
		}
		carrier := "no-carrier"
		if i.Carrier {
			carrier = "carrier"
		}
		line := fmt.Sprintf("  %-15s %-4s %-10s %-7s", decode.Printable(i.Name), state, carrier, i.OperState)
		if i.Peer != nil {
			line += " peer " + decode.Printable(i.Peer.String())
		}
		if len(i.Addresses) > 0 {
			line += "  " + strings.Join(i.Addresses, " ")
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	if len(ns.Routes) == 0 {
		fmt.Fprintln(w, "  routes: none")
		return
	}
	fmt.Fprintln(w, "  routes:")
	for _, r := range ns.Routes {
		fmt.Fprintln(w, "    "+decode.Printable(r.Text))
	}
}
