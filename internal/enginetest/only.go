package enginetest

import (
	"path/filepath"
	"testing"
)

// AskOnly points nsdump (run by the test, in its process or as a child)
// at the one engine whose socket host names, DOCKER_HOST or
// CONTAINER_HOST as env says, and at nothing for the other engine and
// the on-disk state of containerd and CRI-O: a test of one engine's words
// sees none of the host's containers.
func AskOnly(t testing.TB, env, host string) {
	t.Helper()
	none := t.TempDir()
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(none, "no-docker.sock"))
	t.Setenv("CONTAINER_HOST", "unix://"+filepath.Join(none, "no-podman.sock"))
	t.Setenv(env, host)
	t.Setenv("NSDUMP_CONTAINERD_STATE", filepath.Join(none, "no-containerd"))
	t.Setenv("NSDUMP_CRIO_STATE", filepath.Join(none, "no-crio"))
}

// AskOnly points nsdump at this dockerd alone (see AskOnly).
func (d *Docker) AskOnly(t testing.TB) { AskOnly(t, "DOCKER_HOST", d.Host) }

// AskOnly points nsdump at this Podman alone (see AskOnly).
func (p *Podman) AskOnly(t testing.TB) { AskOnly(t, "CONTAINER_HOST", p.Host) }
