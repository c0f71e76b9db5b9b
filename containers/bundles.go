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

// bundle is one task's state on disk.
type bundle struct {
	engine, namespace, id string
	config, pidfile       string
}

// bundles lists the task directories of containerd (DIR/NAMESPACE/ID/
// with config.json and the shim's init.pid) and CRI-O (DIR/ID/userdata/
// with config.json and pidfile), reading none of their files yet. A
// runtime absent from this host is no error.
func bundles() ([]bundle, error) {
	var out []bundle
	var errs []error
	dir := stateDir(ContainerdStateEnv, DefaultContainerdState)
	if nss, err := os.ReadDir(dir); err != nil {
		errs = append(errs, stateError(Containerd, dir, ContainerdStateEnv, err))
	} else {
		for _, ns := range nss {
			if ns.Name() == dockerNamespace {
				continue // Docker's own containers: Docker answers for them, by name
			}
			ids, _ := os.ReadDir(filepath.Join(dir, ns.Name()))
			for _, id := range ids {
				b := filepath.Join(dir, ns.Name(), id.Name())
				out = append(out, bundle{Containerd, ns.Name(), id.Name(), filepath.Join(b, "config.json"), filepath.Join(b, "init.pid")})
			}
		}
	}
	dir = stateDir(CRIOStateEnv, DefaultCRIOState)
	if ids, err := os.ReadDir(dir); err != nil {
		errs = append(errs, stateError(CRIO, dir, CRIOStateEnv, err))
	} else {
		for _, id := range ids {
			u := filepath.Join(dir, id.Name(), "userdata")
			out = append(out, bundle{CRIO, "", id.Name(), filepath.Join(u, "config.json"), filepath.Join(u, "pidfile")})
		}
	}
	var kept []error
	for _, err := range errs {
		if !errors.Is(err, errAbsent) {
			kept = append(kept, err)
		}
	}
	return out, errors.Join(kept...)
}

// pid is the task's process, or 0 when it has none running (a stopped
// task leaves its directory until it is deleted).
func (b bundle) pid() int {
	raw, err := os.ReadFile(b.pidfile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		return 0
	}
	return pid
}

// container reads the bundle's Kubernetes annotations.
func (b bundle) container(pid int) Container {
	c := Container{Engine: b.engine, Namespace: b.namespace, ID: b.id, Name: b.id, PID: pid}
	ann, _ := annotations(b.config)
	c.PodName, c.PodNamespace = first(ann, podNameKeys), first(ann, podNamespaceKeys)
	if c.PodName == "" || c.PodNamespace == "" {
		c.PodName, c.PodNamespace = "", ""
	} else if name := first(ann, containerNameKeys); name != "" {
		c.Name = name
	}
	return c
}

// onDisk reads containerd's and CRI-O's running tasks.
func onDisk() ([]Container, error) {
	bs, err := bundles()
	var out []Container
	for _, b := range bs {
		if pid := b.pid(); pid > 0 {
			out = append(out, b.container(pid))
		}
	}
	return out, err
}

// onDiskOf finds the task whose process is pid, or whose id is id (from
// pid's cgroup: a process the task runs besides its first), reading one
// config.
func onDiskOf(pid int, id string) (Container, bool) {
	bs, _ := bundles()
	for _, b := range bs {
		if b.pid() == pid || id != "" && b.id == id {
			return b.container(pid), true
		}
	}
	return Container{}, false
}

// errAbsent is a runtime with no state directory: not on this host.
var errAbsent = errors.New("not on this host")

func stateError(engine, dir, env string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return errAbsent
	}
	return &EngineError{Engine: engine, Where: dir, Hint: "run as root, or set " + env + " to the runtime's task directory", Err: err}
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
