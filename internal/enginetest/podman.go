package enginetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology"
)

// Podman is podman with a root, run root, tmp dir and network config of
// the test's own, its commands run inside the test's namespace (rootful
// podman makes its bridges where it runs), and its API service on a socket
// of its own for whoever resolves names.
type Podman struct {
	*env
	Host     string // CONTAINER_HOST: unix://DIR/podman.sock
	Image    string
	networks []string
}

// StartPodman imports the busybox image and starts the API service, and
// removes containers, networks and state at the end of the test.
func StartPodman(t testing.TB, prefix string) *Podman {
	t.Helper()
	e := newEnv(t, prefix, "pm", "podman", "runc", "conmon")
	sock := filepath.Join(e.Dir, "podman.sock")
	p := &Podman{env: e, Host: "unix://" + sock, Image: prefix + "-busybox:1"}
	cmd := e.daemon("podman", append(p.global(), "system", "service", "--time=0", p.Host)...)
	e.waitReady("podman", cmd, func(ctx context.Context) error { return ping(ctx, sock) })
	t.Cleanup(p.remove)
	imp := exec.Command("nsenter", append([]string{"--net=" + topology.NamespacePath(e.Netns)}, append(p.global(), "import", "-", p.Image)...)...)
	imp.Env = localEnviron()
	e.importBusybox("podman import", imp)
	return p
}

// global are podman's options that keep it to the test's directory; the
// cgroupfs manager since the test host need not run systemd.
func (p *Podman) global() []string {
	return []string{"podman", "--root", filepath.Join(p.Dir, "root"), "--runroot", filepath.Join(p.Dir, "run"),
		"--tmpdir", filepath.Join(p.Dir, "tmp"), "--network-config-dir", filepath.Join(p.Dir, "net"),
		"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
}

// Podman runs podman inside the test's namespace and returns its output,
// trimmed; an error fails the test.
func (p *Podman) Podman(args ...string) string {
	p.t.Helper()
	out, err := p.tryInNetns(nil, append(p.global(), args...)...)
	if err != nil {
		p.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// Network creates a network named NAME plus a suffix unique to this run
// (the CNI plugins keep their address leases under /var/lib/cni by
// network name), with podman network create's opts, and returns its name.
func (p *Podman) Network(name string, opts ...string) string {
	p.t.Helper()
	full := name + strings.TrimPrefix(p.Netns, p.prefix+"-pm")
	p.Podman(append(append([]string{"network", "create"}, opts...), full)...)
	p.networks = append(p.networks, full)
	return full
}

// Run starts a detached container of the busybox image running sleep and
// returns its id. The rlimits are set below the test host's hard limits,
// which runc may not raise.
func (p *Podman) Run(name string, opts ...string) string {
	p.t.Helper()
	args := append([]string{"run", "-d", "--name", name, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"}, opts...)
	return p.Podman(append(args, p.Image, "sleep", "1000000")...)
}

func (p *Podman) remove() {
	p.tryInNetns(nil, append(p.global(), "rm", "-f", "-a", "-t", "0")...)
	for _, n := range p.networks {
		p.tryInNetns(nil, append(p.global(), "network", "rm", "-f", n)...)
		os.RemoveAll(filepath.Join("/var/lib/cni/networks", n))
	}
}
