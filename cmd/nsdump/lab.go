package main

import (
	"context"
	"fmt"

	"github.com/nsdump/nsdump/topology"
)

func runSetup(_ context.Context, e env, args []string) error {
	fs := newFlags(e, "setup")
	lf := addLabFlags(fs)
	routes := fs.Bool("routes", false, "also add the routes between the two subnets (the walkthrough's fix)")
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := lf.lab()
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := topology.CheckPrivileges(); err != nil {
		return err
	}
	done, err := topology.Setup(l, *routes)
	printDone(e, done)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if len(done) == 0 {
		fmt.Fprintf(e.stdout, "lab %s <-> %s already in place\n", l.NS0, l.NS1)
	}
	return nil
}

func runTeardown(_ context.Context, e env, args []string) error {
	fs := newFlags(e, "teardown")
	lf := addLabFlags(fs)
	force := fs.Bool("force", false, "remove the namespaces even if they hold interfaces the lab did not create")
	if err := parse(fs, args); err != nil {
		return err
	}
	l, err := lf.lab()
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := topology.CheckPrivileges(); err != nil {
		return err
	}
	done, err := topology.Teardown(l, *force)
	printDone(e, done)
	if err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	if len(done) == 0 {
		fmt.Fprintf(e.stdout, "nothing to remove: %s and %s do not exist\n", l.NS0, l.NS1)
	}
	return nil
}

// printDone shows each change as the iproute2 command that would make it.
func printDone(e env, done []string) {
	for _, d := range done {
		fmt.Fprintln(e.stdout, d)
	}
}
