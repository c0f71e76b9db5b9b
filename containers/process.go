package containers

import (
	"context"
	"os"
	"strconv"
	"strings"
)

// OfProcess finds the container process pid runs in, from the container
// id its cgroup path carries (/docker/ID, docker-ID.scope, libpod-ID.scope,
// cri-containerd-ID.scope, crio-ID.scope), and the engines' lists of
// running containers (cached: a list call names them all). The container's
// PID is pid, a process of it.
func OfProcess(ctx context.Context, pid int) (Container, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return Container{}, false
	}
	id := cgroupID(string(b))
	if c, ok := onDiskOf(pid, id); ok {
		return c, true
	}
	if id == "" {
		return Container{}, false
	}
	for _, engine := range []string{Docker, Podman} {
		e, err := endpointOf(engine)
		if err != nil || e.absent {
			continue
		}
		if name, ok, err := e.nameOf(ctx, id); err == nil && ok {
			return Container{Engine: engine, Name: name, ID: id, PID: pid}, true
		}
	}
	return Container{}, false
}

// idLen is the length of Docker's, Podman's and CRI-O's container ids.
const idLen = 64

// cgroupID is the last 64-hex-digit container id in a /proc/PID/cgroup.
func cgroupID(cgroup string) string {
	id := ""
	for _, line := range strings.Split(cgroup, "\n") {
		f := strings.SplitN(line, ":", 3) // hierarchy:controllers:path
		if len(f) != 3 {
			continue
		}
		for _, seg := range strings.Split(f[2], "/") {
			seg = strings.TrimSuffix(seg, ".scope")
			if i := strings.LastIndexAny(seg, "-:"); i >= 0 {
				seg = seg[i+1:]
			}
			if isHexID(seg) {
				id = seg
			}
		}
	}
	return id
}

func isHexID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
