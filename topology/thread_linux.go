package topology

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Do runs fn on a fresh goroutine whose OS thread sits in the network
// namespace ns, then puts the thread back. fn should only create sockets or
// netlink handles: they keep their namespace and can be used from any
// goroutine afterwards. fn must not start goroutines.
func Do(ns netns.NsHandle, fn func() error) error {
	return onThread(func() error {
		if err := unix.Setns(int(ns), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter namespace: %w", err)
		}
		return nil
	}, fn)
}

// onThread is the only code that moves a thread between network namespaces.
// It locks a fresh goroutine to its thread, saves the thread's namespace, runs
// enter then fn, and switches back. The thread is unlocked only when the
// switch back worked; otherwise the goroutine exits locked and the Go runtime
// throws the thread away instead of handing it to another goroutine.
func onThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		origin, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open the thread's namespace: %w", err)
			return
		}
		defer origin.Close()
		if err := enter(); err != nil {
			// A failed setns or unshare leaves the thread where it was.
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(int(origin), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("return to the original namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
