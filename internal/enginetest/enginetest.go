// Package enginetest starts container engines of a test's own: dockerd,
// podman's API service and containerd, each inside a network namespace the
// test made (never the host's network), with its own root, state and
// socket under a temporary directory, and an image or rootfs made from the
// busybox-static binary (no registry is reachable). Everything is stopped
// by PID and removed when the test ends. A test that cannot start an
// engine is skipped with the reason, or fails under NSDUMP_REQUIRE_ROOT=1.
package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nsdump/nsdump/internal/labtest"
	"github.com/nsdump/nsdump/topology"
	"golang.org/x/sys/unix"
)

// Busybox is the static busybox binary the images are made from
// (Debian's busybox-static).
const Busybox = "/bin/busybox"

// applets are linked to busybox in the images' /bin.
var applets = []string{"sh", "sleep", "nc", "httpd", "ip", "cat", "ls", "ping", "true"}

// stopWait bounds how long an engine gets to exit after SIGTERM before it
// is killed: only a hung engine waits this long.
const stopWait = 60 * time.Second

var seq atomic.Int32

// env is what every engine needs: a namespace and a directory of its own.
type env struct {
	t      testing.TB
	Netns  string // the namespace the engine and its bridges live in
	Dir    string // root, state, sockets, logs
	prefix string
}

// newEnv makes a namespace named after prefix (the caller's test prefix,
// e.g. "nsdct") and a directory, both removed at the end of the test. The
// tools named must be installed.
func newEnv(t testing.TB, prefix, kind string, tools ...string) *env {
	t.Helper()
	labtest.RequireRoot(t)
	for _, tool := range append(tools, "nsenter", "ip") {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.Unavailable(t, "%s needs %s (Debian: apt-get install docker.io podman containerd runc busybox-static): %v", kind, tool, err)
		}
	}
	if _, err := os.Stat(Busybox); err != nil {
		labtest.Unavailable(t, "%s needs a static busybox (apt-get install busybox-static): %v", kind, err)
	}
	name := fmt.Sprintf("%s-%s%04x%02x", prefix, kind, os.Getpid()&0xffff, seq.Add(1)&0xff)
	if err := topology.CreateNamespace(name); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() { topology.DeleteNamespace(name) })
	dir, err := os.MkdirTemp("", name+"-")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, Netns: name, Dir: dir, prefix: prefix}
	t.Cleanup(func() { removeAll(t, dir) })
	e.inNetns("ip", "link", "set", "lo", "up")
	return e
}

// removeAll unmounts what an engine left mounted under dir (a killed
// engine leaves overlays and its run directories), then removes it. A
// process still running from dir (a shim, a containerd the engine did not
// stop) fails the test, and is killed by its PID: the engine made it.
func removeAll(t testing.TB, dir string) {
	for _, pid := range processesUnder(dir) {
		t.Errorf("process %d of the engine under %s outlived it; killing it", pid, dir)
		unix.Kill(pid, unix.SIGKILL)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	var under []string
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			under = append(under, f[4])
		}
	}
	for i := len(under) - 1; i >= 0; i-- { // innermost first
		unix.Unmount(under[i], unix.MNT_DETACH)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("remove %s: %v", dir, err)
	}
}

// inNetns runs a command inside the engine's namespace and returns its
// standard output; a failure fails the test with its standard error.
func (e *env) inNetns(args ...string) string {
	e.t.Helper()
	out, err := e.tryInNetns(nil, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) tryInNetns(extraEnv []string, args ...string) (string, error) {
	full := append([]string{"--net=" + topology.NamespacePath(e.Netns)}, args...)
	cmd := exec.Command("nsenter", full...)
	cmd.Env = append(localEnviron(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// localEnviron is the environment without CONTAINER_HOST, which turns
// podman into a client of a remote service (a test sets it for nsdump).
func localEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONTAINER_HOST=") {
			env = append(env, kv)
		}
	}
	return env
}

// daemon starts a long-running engine process inside the namespace, its
// output in DIR/NAME.log, and stops it by PID when the test ends: SIGTERM,
// then SIGKILL if it has not exited within stopWait.
func (e *env) daemon(name string, args ...string) *exec.Cmd {
	e.t.Helper()
	log, err := os.Create(filepath.Join(e.Dir, name+".log"))
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command("nsenter", append([]string{"--net=" + topology.NamespacePath(e.Netns)}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = localEnviron()
	// A process group of its own: a ^C to go test does not reach it
	// before the cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		labtest.Unavailable(e.t, "start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(done) }()
	e.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopWait):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

// waitReady polls ready until it succeeds, the daemon exits, or a minute
// passes: an engine's start is not an event a test can wait on otherwise.
func (e *env) waitReady(name string, cmd *exec.Cmd, ready func(context.Context) error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = ready(ctx); err == nil {
			return
		}
		if cmd.ProcessState != nil || unix.Kill(cmd.Process.Pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	logText, _ := os.ReadFile(filepath.Join(e.Dir, name+".log"))
	labtest.Unavailable(e.t, "%s did not start: %v; its log ends:\n%s", name, err, tail(string(logText), 20))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// importBusybox writes a busybox rootfs under the env's directory and pipes
// it as a tar stream into imp, an engine's import command named what.
func (e *env) importBusybox(what string, imp *exec.Cmd) {
	e.t.Helper()
	root := filepath.Join(e.Dir, "rootfs")
	if err := rootfs(root); err != nil {
		e.t.Fatal(err)
	}
	tar := exec.Command("tar", "-C", root, "-c", ".")
	var err error
	if imp.Stdin, err = tar.StdoutPipe(); err != nil {
		e.t.Fatal(err)
	}
	if err := tar.Start(); err != nil {
		e.t.Fatal(err)
	}
	if out, err := imp.CombinedOutput(); err != nil {
		e.t.Fatalf("%s: %v: %s", what, err, out)
	}
	if err := tar.Wait(); err != nil {
		e.t.Fatalf("tar of the busybox rootfs: %v", err)
	}
}

// rootfs writes a root filesystem of busybox and its applets under dir.
func rootfs(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}
	for _, d := range []string{"proc", "sys", "dev", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(Busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), b, 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return err
		}
	}
	return nil
}

// processesUnder lists the processes whose command line names dir: the
// engines started from it and what they started (shims run with the
// state directory in their arguments).
func processesUnder(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmdline, []byte(dir+"/")) {
			out = append(out, pid)
		}
	}
	return out
}
