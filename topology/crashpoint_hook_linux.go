//go:build nsdumptest

package topology

import (
	"os"

	"golang.org/x/sys/unix"
)

// crashPoint stops the whole process (SIGSTOP) at the named step of a
// namespace creation when NSDUMP_CRASH_POINT names it, so that a test can
// kill -9 it exactly there: the windows are microseconds wide, too narrow
// for random kills to hit reliably. Only binaries built with -tags
// nsdumptest (cmd/nsdump's tests build one) have the hook; the shipped
// one has crashpoint_linux.go's no-op.
func crashPoint(step string) {
	if os.Getenv("NSDUMP_CRASH_POINT") == step {
		// To this thread: a signal to the process may be taken by another
		// thread while this one goes on to the next step.
		unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGSTOP)
	}
}
