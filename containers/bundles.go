package containers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Runtime state directories, and the variables that move them (a test's
// own containerd, a node whose /run is mounted elsewhere).
const (
	DefaultContainerdState = "/run/containerd/io.containerd.runtime.v2.task"
	DefaultCRIOState       = "/run/containers/storage/overlay-containers"
	ContainerdStateEnv     = "NSDUMP_CONTAINERD_STATE"
	CRIOStateEnv           = "NSDUMP_CRIO_STATE"
)

// Kubernetes annotations in a pod container's OCI config: CRI-O writes the
// io.kubernetes.pod.* ones, containerd's CRI plugin the io.kubernetes.cri.*.
var (
	podNameKeys       = []string{"io.kubernetes.pod.name", "io.kubernetes.cri.sandbox-name"}
	podNamespaceKeys  = []string{"io.kubernetes.pod.namespace", "io.kubernetes.cri.sandbox-namespace"}
	containerNameKeys = []string{"io.kubernetes.cri.container-name", "io.kubernetes.container.name"}
)

// dockerNamespace is the containerd namespace dockerd keeps its tasks in.
const dockerNamespace = "moby"

// maxConfig bounds an OCI config read from disk.
const maxConfig = 4 << 20

func stateDir(env, def string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	return def
}

// containerdTasks reads containerd's running tasks: DIR/NAMESPACE/ID/ holds
// the bundle's config.json and the shim's init.pid.
func containerdTasks() ([]Container, error) {
	dir := stateDir(ContainerdStateEnv, DefaultContainerdState)
	nss, err := os.ReadDir(dir)
	if err != nil {
		return nil, stateError(Containerd, dir, ContainerdStateEnv, err)
	}
	var out []Container
	for _, ns := range nss {
		if ns.Name() == dockerNamespace {
			continue // Docker's own containers: Docker answers for them, by name
		}
		ids, _ := os.ReadDir(filepath.Join(dir, ns.Name()))
		for _, id := range ids {
			b := filepath.Join(dir, ns.Name(), id.Name())
			c, ok := readBundle(filepath.Join(b, "config.json"), filepath.Join(b, "init.pid"))
			if !ok {
				continue
			}
			c.Engine, c.Namespace, c.ID = Containerd, ns.Name(), id.Name()
			if c.Name == "" {
				c.Name = c.ID
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// crioContainers reads CRI-O's containers: DIR/ID/userdata/ holds
// config.json and pidfile.
func crioContainers() ([]Container, error) {
	dir := stateDir(CRIOStateEnv, DefaultCRIOState)
	ids, err := os.ReadDir(dir)
	if err != nil {
		return nil, stateError(CRIO, dir, CRIOStateEnv, err)
	}
	var out []Container
	for _, id := range ids {
		u := filepath.Join(dir, id.Name(), "userdata")
		c, ok := readBundle(filepath.Join(u, "config.json"), filepath.Join(u, "pidfile"))
		if !ok {
			continue
		}
		c.Engine, c.ID = CRIO, id.Name()
		if c.Name == "" {
			c.Name = c.ID
		}
		out = append(out, c)
	}
	return out, nil
}

// errAbsent is a runtime with no state directory: not on this host.
var errAbsent = errors.New("not on this host")

func stateError(engine, dir, env string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return errAbsent
	}
	return &EngineError{Engine: engine, Where: dir, Hint: "run as root, or set " + env + " to the runtime's task directory", Err: err}
}

// readBundle reads a bundle's pid and Kubernetes annotations (Name is the
// Kubernetes container name, if any); ok is false
// for a bundle whose process is gone (a stopped task leaves its directory
// until it is deleted).
func readBundle(config, pidfile string) (Container, bool) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return Container{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return Container{}, false
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		return Container{}, false
	}
	c := Container{PID: pid}
	ann, _ := annotations(config)
	c.PodName, c.PodNamespace = first(ann, podNameKeys), first(ann, podNamespaceKeys)
	if c.PodName == "" || c.PodNamespace == "" {
		c.PodName, c.PodNamespace = "", ""
	}
	if c.PodName != "" {
		c.Name = first(ann, containerNameKeys)
	}
	return c, true
}

// annotations reads the annotations of an OCI runtime config.
func annotations(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cfg struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.NewDecoder(io.LimitReader(f, maxConfig)).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg.Annotations, nil
}

func first(m map[string]string, keys []string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}
