package main

import (
	"context"
	"errors"

	"fmt"
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

// holdTargets opens every namespace target once, for the whole command:
// the namespaces keep their identity however their process or mount
// changes meanwhile. release closes them all.
func holdTargets(specs []string) (held []*topology.NetNS, release func(), err error) {
	release = func() {
		for _, n := range held {
			n.Close()
		}
	}
	for _, s := range specs {
		n, err := topology.Hold(s)
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
		n, err := topology.Hold(ns)
		if err != nil {
			return err
		}
		n.Close()
	}
	return fmt.Errorf("namespace %q: %w", ns, topology.ErrNoNamespace)
}

// holdCaptureTargets holds each target's namespace and names the target by
// the namespace's display name, which the capture points then carry.
func holdCaptureTargets(targets []capture.Target) ([]*topology.NetNS, func(), error) {
	specs := make([]string, len(targets))
	for i, t := range targets {
		specs[i] = t.Namespace
	}
	held, release, err := holdTargets(specs)
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
