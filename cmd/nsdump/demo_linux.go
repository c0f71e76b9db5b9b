package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/trace"
)

// runDemo is the walkthrough in one command: the lab without routes, a
// trace that explains why nothing flows, the two routes, a trace where
// everything does, both written to one pcapng.
func runDemo(ctx context.Context, e env, args []string) (err error) {
	fs := newFlags(e, "demo")
	lf := addLabFlags(fs)
	keep := fs.Bool("keep", false, "leave the lab in place afterwards, handed over to you as if nsdump setup had built it")
	write := fs.StringP("write", "w", "demo.pcapng", "pcapng file for both traces")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	lab, err := lf.lab()
	if err != nil {
		return err
	}
	if err := topology.CheckPrivileges(); err != nil {
		return err
	}
	warnLeftovers(e)
	for _, ns := range []string{lab.NS0, lab.NS1} {
		if topology.NamespaceExists(ns) {
			return fmt.Errorf("namespace %q already exists; the demo builds its own lab and touches nothing else (nsdump teardown removes the lab)", ns)
		}
	}
	start := time.Now()
	step := func(format string, a ...any) { fmt.Fprintf(e.stdout, "\n$ "+format+"\n", a...) }
	step("nsdump setup    # the walkthrough's lab, no routes between the subnets")
	done, err := topology.SetupTransient(lab, false)
	printDone(e, done)
	// Whatever happens next (but SIGKILL), the lab is handed over or torn
	// down when the demo ends.
	defer func() { err = endDemoLab(e, lab, *keep, err) }()
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	after, err := demoTraces(ctx, e, lab, *write, step)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nboth traces, with the verdicts as comments: %s (wireshark %s)\n", *write, *write)
	fmt.Fprintf(e.stdout, "demo took %.2f s\n", time.Since(start).Seconds())
	if !after.OK {
		return failure{errors.New("the lab still fails after adding the routes")}
	}
	return nil
}

// teardownCommand is the command that removes lab, with the naming flags
// that differ from the defaults.
func teardownCommand(lab topology.Lab) string {
	d := topology.DefaultLab()
	cmd := "nsdump teardown"
	for _, f := range []struct{ flag, v, def string }{
		{"--ns0", lab.NS0, d.NS0}, {"--ns1", lab.NS1, d.NS1}, {"--veth0", lab.Veth0, d.Veth0}, {"--veth1", lab.Veth1, d.Veth1},
	} {
		if f.v != f.def {
			cmd += " " + f.flag + " " + f.v
		}
	}
	return cmd
}

// endDemoLab ends the demo's lab once the demo ended with err: with --keep
// it is handed over, from then on the user's as if nsdump setup had built
// it; otherwise torn down. It returns err, or the first error of its own.
func endDemoLab(e env, lab topology.Lab, keep bool, err error) error {
	if keep {
		herr := topology.HandOver(lab.NS0, lab.NS1)
		if herr != nil && err == nil {
			err = herr
		}
		if herr == nil {
			fmt.Fprintf(e.stdout, "\nthe lab is kept: %s and %s stay, yours as if nsdump setup had built them; remove them with: %s\n", lab.NS0, lab.NS1, teardownCommand(lab))
		}
		return err
	}
	if _, terr := topology.Teardown(lab, true); terr != nil && err == nil {
		err = terr
	}
	if err == nil {
		fmt.Fprintf(e.stdout, "\n$ nsdump teardown\nip netns del %s\nip netns del %s\n", lab.NS0, lab.NS1)
	}
	return err
}

// demoTraces traces the lab, adds its routes, traces it again and writes
// both traces to the file write; it returns the second trace. Interrupted,
// it writes what was captured so far.
func demoTraces(ctx context.Context, e env, lab topology.Lab, write string, step func(format string, a ...any)) (*trace.Result, error) {
	cfg := trace.Config{From: lab.NS0, To: lab.NS1}
	step("nsdump trace %s %s", lab.NS0, lab.NS1)
	before, err := trace.Run(ctx, cfg)
	if err != nil {
		if before != nil {
			savePartial(e, write, before.Points, []*trace.Result{before})
		}
		return nil, err
	}
	printTrace(e.stdout, before, cfg.WithDefaults(), useColor(e.stdout))

	step("nsdump setup --routes    # %s", strings.Join(lab.RouteCommands(), "; "))
	done, err := topology.Setup(lab, true)
	printDone(e, done)
	if err != nil {
		return nil, fmt.Errorf("setup --routes: %w", err)
	}
	step("nsdump trace %s %s", lab.NS0, lab.NS1)
	after, err := trace.Run(ctx, cfg)
	if err != nil {
		results := []*trace.Result{before}
		if after != nil {
			results = append(results, after)
		}
		savePartial(e, write, before.Points, results)
		return nil, err
	}
	printTrace(e.stdout, after, cfg.WithDefaults(), useColor(e.stdout))
	if err := writeTrace(ctx, e.stderr, write, after.Points, []*trace.Result{before, after}); err != nil {
		return nil, err
	}
	return after, nil
}
