// Command nsdump is a packet-capture debugger for Linux network namespaces.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal asks the command to finish (write what it has,
		// remove what it built); a second one kills it outright.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if reportable(err) {
		fmt.Fprintln(os.Stderr, "nsdump: "+errorText(err))
	}
	os.Exit(exitCode(err))
}

// errorText says "interrupted" where Go would say "context canceled".
func errorText(err error) string {
	if err == context.Canceled {
		return "interrupted"
	}
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = strings.ReplaceAll(msg, context.Canceled.Error(), "interrupted")
	}
	return msg
}
