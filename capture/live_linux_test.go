package capture

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

func testLab(t *testing.T) topology.Lab { return labtest.New(t, "ca", true) }

// flood sends UDP from ns to dst until ctx ends and returns how many
// datagrams went out.
func flood(ctx context.Context, t *testing.T, ns string, dst netip.Addr) *atomic.Int64 {
	t.Helper()
	h, err := topology.OpenNamespace(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	fd := -1
	if err := topology.Do(h, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	go func() {
		defer unix.Close(fd)
		sa := &unix.SockaddrInet4{Addr: dst.As4(), Port: 9}
		msg := make([]byte, 22)
		for ctx.Err() == nil {
			if unix.Sendto(fd, msg, 0, sa) == nil {
				sent.Add(1)
			}
		}
	}()
	return &sent
}

// TestFilterRace: frames that reach a socket before its filter is attached
// must not come out. A UDP flood runs while a "tcp" capture starts and
// stops 50 times; not one frame may pass. (Not "icmp": the flood draws
// ICMP port unreachables, which an icmp filter rightly keeps.)
func TestFilterRace(t *testing.T) {
	l := testLab(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sent := flood(ctx, t, l.NS0, l.Addr1.Addr())
	flt, err := CompileFilter("tcp", LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	leaked := 0
	for i := 0; i < 50; i++ {
		s, err := Open([]Target{{Namespace: l.NS0}}, &Config{Filter: flt, NumBlocks: 4, PollTimeout: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		s.Run(runCtx, 0, func(f Frame) error { leaked++; return nil }, nil)
		cancel()
	}
	if leaked != 0 {
		t.Fatalf("%d frames came out of a tcp capture during a UDP flood", leaked)
	}
	// The flood was real: an unfiltered capture sees it (the first frame
	// ends the run; the deadline only bounds a failure).
	s, err := Open([]Target{{Namespace: l.NS0}}, &Config{NumBlocks: 4, PollTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	seen := 0
	s.Run(runCtx, 1, func(f Frame) error { seen++; return nil }, nil)
	cancel()
	if seen == 0 || sent.Load() == 0 {
		t.Fatalf("the flood was not there: %d sent, %d seen unfiltered", sent.Load(), seen)
	}
}

// TestInterfaceDeletedMidCapture: once the capture has seen a frame, the
// interface is deleted; the capture ends with an error naming the capture
// point instead of spinning or hanging.
func TestInterfaceDeletedMidCapture(t *testing.T) {
	l := testLab(t)
	s, err := Open([]Target{{Namespace: l.NS0, Interface: l.Veth0}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	capturing := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := s.Run(context.Background(), 0, func(Frame) error { once.Do(func() { close(capturing) }); return nil }, nil)
		done <- err
	}()
	// Pings until the capture shows it is reading; the deadlines here only
	// bound a failure on a loaded machine.
	deadline := time.After(30 * time.Second)
	for seen := false; !seen; {
		exec.Command("ip", "netns", "exec", l.NS0, "ping", "-c1", "-W1", l.Addr1.Addr().String()).Run()
		select {
		case <-capturing:
			seen = true
		case err := <-done:
			t.Fatalf("capture ended before the interface was deleted: %v", err)
		case <-deadline:
			t.Fatal("the capture saw no ping in 30s")
		default:
		}
	}
	if out, err := runIP("-n", l.NS0, "link", "del", l.Veth0); err != nil {
		t.Fatalf("ip link del: %v %s", err, out)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), l.NS0+"/"+l.Veth0) {
			t.Fatalf("capture ended with %v after its interface vanished, want an error naming %s/%s", err, l.NS0, l.Veth0)
		}
		t.Logf("capture ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("capture still running 30s after its interface was deleted")
	}
}

func runIP(args ...string) ([]byte, error) {
	return exec.Command("ip", args...).CombinedOutput()
}

// TestStartStop500: opening and stopping a capture 500 times leaks no
// goroutine or file descriptor and leaves every thread in the namespace it
// started in.
func TestStartStop500(t *testing.T) {
	l := testLab(t)
	start, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	run := func() {
		s, err := Open([]Target{{Namespace: l.NS0}, {Namespace: l.NS1}}, &Config{NumBlocks: 2, PollTimeout: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
		defer cancel()
		if _, err := s.Run(ctx, 0, func(Frame) error { return nil }, nil); err != nil {
			t.Fatal(err)
		}
	}
	run() // warm up what is created once
	fds, _ := os.ReadDir("/proc/self/fd")
	goroutines := runtime.NumGoroutine()
	for i := 0; i < 500; i++ {
		run()
	}
	// Fewer is fine: an earlier test's socket may close meanwhile; more,
	// still after a generous wait for the last goroutines to end, is a leak.
	var nowFDs, nowGoroutines int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		now, _ := os.ReadDir("/proc/self/fd")
		nowFDs, nowGoroutines = len(now), runtime.NumGoroutine()
		if nowFDs <= len(fds) && nowGoroutines <= goroutines || time.Now().After(deadline) {
			break
		}
	}
	if nowFDs > len(fds) || nowGoroutines > goroutines {
		t.Errorf("after 500 captures: %d file descriptors (%d before), %d goroutines (%d before)", nowFDs, len(fds), nowGoroutines, goroutines)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, task := range tasks {
		if ns, err := os.Readlink(task); err == nil && ns != start {
			t.Errorf("%s is in %s, want %s", task, ns, start)
		}
	}
}

// TestTwoPointsInTimeOrder: both ends of a veth pair under a UDP flood, read
// in place from their rings and merged: every frame comes out in timestamp
// order, from both points, whole (a 64-byte frame, its UDP port intact
// after the merge handed the ring's memory on).
func TestTwoPointsInTimeOrder(t *testing.T) {
	l := testLab(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	flood(ctx, t, l.NS0, l.Addr1.Addr())
	flt, err := CompileFilter("udp port 9", LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open([]Target{{Namespace: l.NS0}, {Namespace: l.NS1}}, &Config{Filter: flt, RingSize: MinRing * 2})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50000
	var last time.Time
	var perPoint [2]int
	out := 0
	runCtx, cancel := context.WithTimeout(ctx, 60*time.Second) // bounds a failure only
	defer cancel()
	st, err := s.Run(runCtx, n, func(f Frame) error {
		if f.Time.Before(last) {
			t.Errorf("frame %d of point %d at %v after one at %v", out, f.Point, f.Time.Format(time.StampNano), last.Format(time.StampNano))
		}
		last = f.Time
		if len(f.Data) != 64 || f.Data[36] != 0 || f.Data[37] != 9 {
			t.Errorf("frame %d: %d bytes, udp dst port bytes % x", out, len(f.Data), f.Data[36:38])
		}
		perPoint[f.Point]++
		out++
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Captured != n || perPoint[0] == 0 || perPoint[1] == 0 {
		t.Fatalf("captured %d (%v per point), want %d from both", st.Captured, perPoint, n)
	}
	t.Logf("%d frames in order, %v per point, %d dropped by the kernel", n, perPoint, st.Dropped)
}
