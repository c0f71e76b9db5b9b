package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nsdump/nsdump/netfilter"
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
	warnLeftovers(e)
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
	// Addresses go with the namespaces; the flags are accepted so that a
	// setup command line can be repeated with teardown.
	for _, name := range []string{"addr0", "addr1"} {
		f := fs.Lookup(name)
		f.Usage, f.DefValue = "ignored: the addresses go with the namespaces (accepted so that setup's flags can be repeated)", "[]"
	}
	force := fs.Bool("force", false, "remove the namespaces even if they hold interfaces the lab did not create")
	leftovers := fs.Bool("leftovers", false, "remove instead what killed nsdump runs left: namespaces a demo made for itself (the same ones: netns cookie), empty mount points of interrupted creations, and nftables tables a trace made for itself; nothing else")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *leftovers {
		if err := noArgs(fs); err != nil {
			return err
		}
		if err := topology.CheckPrivileges(); err != nil {
			return err
		}
		done, err := topology.RemoveLeftovers()
		tables, terr := netfilter.RemoveLeftovers()
		done = append(done, tables...)
		err = errors.Join(err, terr)
		printDone(e, done)
		if err == nil && len(done) == 0 {
			fmt.Fprintln(e.stdout, "no leftovers")
		}
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

// warnLeftovers says, in one line on stderr, what an nsdump run killed
// before it could clean up (kill -9 of a demo or a setup) left behind, and
// returns the names it named.
func warnLeftovers(e env) map[string]bool {
	left := topology.Leftovers()
	if len(left) == 0 {
		return nil
	}
	named := map[string]bool{}
	var names []string
	for _, l := range left {
		named[l.Namespace] = true
		what := fmt.Sprintf("%s (pid %d)", l.Namespace, l.PID)
		if l.HalfMade {
			what = fmt.Sprintf("%s (pid %d, an empty file: killed while creating it)", l.Namespace, l.PID)
		}
		names = append(names, what)
	}
	fmt.Fprintf(e.stderr, "nsdump: warning: left behind by an nsdump run that was killed: %s; nsdump teardown --leftovers removes them\n",
		strings.Join(names, ", "))
	return named
}
