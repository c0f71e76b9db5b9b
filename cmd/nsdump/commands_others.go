//go:build !linux

package main

import (
	"context"
	"fmt"
)

// Off Linux nsdump reads capture files (and judges the facts a trace
// stored in them) only: every other command works on network namespaces.
func linuxOnly(name string) func(context.Context, env, []string) error {
	return func(context.Context, env, []string) error {
		return fmt.Errorf("nsdump %s works on Linux network namespaces: on this system, only nsdump read runs", name)
	}
}

var (
	runSetup    = linuxOnly("setup")
	runTeardown = linuxOnly("teardown")
	runLs       = linuxOnly("ls")
	runRoute    = linuxOnly("route")
	runCapture  = linuxOnly("capture")
	runTrace    = linuxOnly("trace")
	runDemo     = linuxOnly("demo")
)
