package enginetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Containerd is a containerd of the test's own: tasks run with ctr write
// the OCI bundles a Kubernetes node's CRI runtime would.
type Containerd struct {
	*env
	Address string // its socket
	State   string // its task directory: NSDUMP_CONTAINERD_STATE
	Rootfs  string // a busybox root filesystem for ctr run --rootfs
	tasks   []string
}

// StartContainerd starts containerd inside a namespace of the test's own,
// its CRI plugin off (it would read the host's CNI setup), and removes its
// tasks, state and namespace at the end of the test.
func StartContainerd(t testing.TB, prefix string) *Containerd {
	t.Helper()
	e := newEnv(t, prefix, "cd", "containerd", "ctr", "runc", "containerd-shim-runc-v2")
	c := &Containerd{env: e, Address: filepath.Join(e.Dir, "containerd.sock"),
		State: filepath.Join(e.Dir, "state", "io.containerd.runtime.v2.task"), Rootfs: filepath.Join(e.Dir, "rootfs")}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
`, filepath.Join(e.Dir, "root"), filepath.Join(e.Dir, "state"), c.Address)
	cfgPath := filepath.Join(e.Dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := rootfs(c.Rootfs); err != nil {
		t.Fatal(err)
	}
	cmd := e.daemon("containerd", "containerd", "--config", cfgPath)
	e.waitReady("containerd", cmd, func(context.Context) error {
		_, err := c.ctr("version")
		return err
	})
	t.Cleanup(c.removeTasks)
	return c
}

// RunPod starts a task in containerd namespace k8s.io with the
// annotations Kubernetes' CRI plugin writes for container name of pod
// NAMESPACE/POD, in a network namespace of its own (only lo).
func (c *Containerd) RunPod(id, podNamespace, pod, name string) {
	c.t.Helper()
	_, err := c.ctr("-n", "k8s.io", "run", "-d", "--rootfs",
		"--annotation", "io.kubernetes.pod.name="+pod,
		"--annotation", "io.kubernetes.pod.namespace="+podNamespace,
		"--annotation", "io.kubernetes.cri.container-name="+name,
		c.Rootfs, id, "/bin/sleep", "1000000")
	if err != nil {
		c.t.Fatal(err)
	}
	c.tasks = append(c.tasks, id)
}

func (c *Containerd) ctr(args ...string) (string, error) {
	cmd := exec.Command("ctr", append([]string{"--address", c.Address}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), &cmdError{"ctr " + strings.Join(args, " "), err, stderr.String()}
	}
	return string(out), nil
}

func (c *Containerd) removeTasks() {
	for _, id := range c.tasks {
		// --force kills the task and waits for it before deleting it.
		c.ctr("-n", "k8s.io", "task", "delete", "--force", id)
		c.ctr("-n", "k8s.io", "container", "delete", id)
	}
}

// RunPodJoining starts a task like RunPod in the network namespace of the
// task join: two containers of one pod.
func (c *Containerd) RunPodJoining(id, podNamespace, pod, name, join string) {
	c.t.Helper()
	out, err := c.ctr("-n", "k8s.io", "task", "ls")
	if err != nil {
		c.t.Fatal(err)
	}
	pid := ""
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == join {
			pid = f[1]
		}
	}
	if pid == "" {
		c.t.Fatalf("no task %s to join:\n%s", join, out)
	}
	_, err = c.ctr("-n", "k8s.io", "run", "-d", "--rootfs",
		"--with-ns", "network:/proc/"+pid+"/ns/net",
		"--annotation", "io.kubernetes.pod.name="+pod,
		"--annotation", "io.kubernetes.pod.namespace="+podNamespace,
		"--annotation", "io.kubernetes.cri.container-name="+name,
		c.Rootfs, id, "/bin/sleep", "1000000")
	if err != nil {
		c.t.Fatal(err)
	}
	c.tasks = append(c.tasks, id)
}
