package enginetest

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Docker is a dockerd of the test's own.
type Docker struct {
	*env
	Host  string // DOCKER_HOST: unix://DIR/docker.sock
	Image string // the busybox image, imported
}

// StartDocker starts dockerd inside a namespace of the test's own (with
// nsenter --net, not ip netns exec, which remounts /sys and hides the
// cgroup mounts dockerd needs), imports the busybox image, and stops and
// removes everything at the end of the test. Its bridges and iptables
// rules live in that namespace.
func StartDocker(t testing.TB, prefix string) *Docker {
	t.Helper()
	e := newEnv(t, prefix, "dk", "dockerd", "docker", "runc")
	sock := filepath.Join(e.Dir, "docker.sock")
	d := &Docker{env: e, Host: "unix://" + sock, Image: prefix + "-busybox:1"}
	cmd := e.daemon("dockerd", "dockerd",
		"--data-root", filepath.Join(e.Dir, "data"),
		"--exec-root", filepath.Join(e.Dir, "exec"),
		"--pidfile", filepath.Join(e.Dir, "docker.pid"),
		"-H", d.Host,
		"--shutdown-timeout", "1",
		"--userland-proxy=false")
	e.waitReady("dockerd", cmd, func(ctx context.Context) error { return ping(ctx, sock) })
	// Containers first: dockerd stops running ones one by one on exit.
	t.Cleanup(d.removeContainers)
	imp := exec.Command("docker", "import", "-", d.Image)
	imp.Env = d.environ()
	e.importBusybox("docker import", imp)
	return d
}

// environ is the environment the docker CLI (and nsdump) reach this
// dockerd with.
func (d *Docker) environ() []string {
	return append(os.Environ(), "DOCKER_HOST="+d.Host)
}

// Docker runs the docker CLI against this dockerd and returns its output,
// trimmed; an error fails the test.
func (d *Docker) Docker(args ...string) string {
	d.t.Helper()
	out, err := d.TryDocker(args...)
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

// TryDocker is Docker that returns the error.
func (d *Docker) TryDocker(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	cmd.Env = d.environ()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), &cmdError{"docker " + strings.Join(args, " "), err, stderr.String()}
	}
	return strings.TrimSpace(string(out)), nil
}

// Run starts a detached container of the busybox image running sleep,
// with the docker run options given, and returns its id.
func (d *Docker) Run(name string, opts ...string) string {
	d.t.Helper()
	args := append([]string{"run", "-d", "--name", name}, opts...)
	return d.Docker(append(args, d.Image, "sleep", "1000000")...)
}

func (d *Docker) removeContainers() {
	ids, err := d.TryDocker("ps", "-aq")
	if err != nil || ids == "" {
		return
	}
	d.TryDocker(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
}

func ping(ctx context.Context, sock string) error {
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &cmdError{"GET /_ping", nil, resp.Status}
	}
	return nil
}

type cmdError struct {
	cmd    string
	err    error
	stderr string
}

func (e *cmdError) Error() string {
	return e.cmd + ": " + strings.TrimSpace(e.stderr) + func() string {
		if e.err != nil {
			return " (" + e.err.Error() + ")"
		}
		return ""
	}()
}
