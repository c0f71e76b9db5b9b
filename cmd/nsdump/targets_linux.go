package main

import (
	"context"
	"errors"

	"fmt"
	"sync"

	"github.com/nsdump/nsdump/capture"

	"github.com/nsdump/nsdump/topology"
)

// validateTargets checks the namespaces named on a command line before any
// system call.
func validateTargets(specs []string) error {
	for _, s := range specs {
		if err := topology.ValidateTarget(s); err != nil {
			return err
		}
	}
	return nil
}

// holdTargets opens every namespace target once into ts, for the whole
// command: the namespaces keep their identity however their process or
// mount changes meanwhile, and what the command does in them goes through
// ts. release closes them all.
func holdTargets(ts *topology.Targets, specs []string) (held []*topology.NetNS, release func(), err error) {
	release = func() {
		for _, n := range held {
			n.Close()
		}
	}
	for _, s := range specs {
		n, err := ts.Hold(s)
		if err != nil {
			release()
			return nil, func() {}, err
		}
		held = append(held, n)
	}
	return held, release, nil
}

// sameNamespace refuses two targets that are one namespace.
func sameNamespace(a, b *topology.NetNS) error {
	if a.Inode == b.Inode && a.Dev == b.Dev {
		return fmt.Errorf("%s and %s are the same namespace (net:[%d])", a.Spec, b.Spec, a.Inode)
	}
	return nil
}

// missingTarget explains a capture word that names no namespace.
func missingTarget(word string) error {
	ns, _, err := topology.SplitTarget(word)
	if err != nil {
		return err
	}
	if !topology.IsNamed(ns) {
		// Opening it says why: no such process, not a namespace file...
		n, err := topology.NewTargets().Hold(ns)
		if err != nil {
			return err
		}
		n.Close()
	}
	return fmt.Errorf("namespace %q: %w", ns, topology.ErrNoNamespace)
}

// holdCaptureTargets holds each target's namespace and names the target by
// the namespace's display name, which the capture points then carry.
func holdCaptureTargets(ts *topology.Targets, targets []capture.Target) ([]*topology.NetNS, func(), error) {
	specs := make([]string, len(targets))
	for i, t := range targets {
		specs[i] = t.Namespace
	}
	held, release, err := holdTargets(ts, specs)
	if err != nil {
		return nil, nil, err
	}
	for i := range targets {
		targets[i].Namespace = held[i].Name
	}
	return held, release, nil
}

// watchHolders cancels ctx, with the reason, when the process behind a
// pid:N or /proc/N/ns/net target exits.
func watchHolders(ctx context.Context, held []*topology.NetNS) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := topology.WaitHolders(ctx, held); err != nil {
			cancel(err)
		}
	}()
	return ctx, func() { cancel(nil); <-done }
}

// holderGone is the error that ended ctx if a holder process exited.
func holderGone(ctx context.Context) error {
	if cause := context.Cause(ctx); errors.Is(cause, topology.ErrHolderExited) {
		return cause
	}
	return nil
}

// extraTargets reads capture --all's arguments: targets first (NS/lo adds
// a loopback), then the filter.
func extraTargets(args []string) ([]capture.Target, []string, error) {
	var targets []capture.Target
	for i, a := range args {
		if !isTarget(a) {
			return targets, args[i:], nil
		}
		t, err := capture.ParseTarget(a)
		if err != nil {
			return nil, nil, err
		}
		targets = append(targets, t)
	}
	return targets, nil, nil
}

// everyInterface is capture --all: every interface but lo of every network
// namespace on the host, each namespace held for the whole capture (not
// watched: the processes that make --all find a namespace come and go).
// Namespaces are held into ts and listed in parallel: there may be
// hundreds.
func everyInterface(e env, ts *topology.Targets) ([]capture.Target, func(), error) {
	found, err := topology.AllNamespaces()
	if err != nil {
		return nil, nil, err
	}
	held := make([]*topology.NetNS, len(found))
	links := make([][]topology.Interface, len(found))
	errs := make([]error, len(found))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, f := range found {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if held[i], errs[i] = ts.Hold(f.Spec()); errs[i] == nil {
				links[i], errs[i] = ts.Links(held[i].Name)
			}
		}()
	}
	wg.Wait()
	release := func() {
		for _, n := range held {
			n.Close() // nil-safe
		}
	}
	var targets []capture.Target
	for i, f := range found {
		if errs[i] != nil {
			fmt.Fprintf(e.stderr, "nsdump: skipping net:[%d]: %v\n", f.Inode, errs[i])
			continue
		}
		for _, l := range links[i] {
			if l.Name != "lo" {
				targets = append(targets, capture.Target{Namespace: held[i].Name, Interface: l.Name, Link: &l})
			}
		}
	}
	if len(targets) == 0 {
		release()
		return nil, nil, errors.New("no interface but loopbacks in any namespace")
	}
	return targets, release, nil
}
