package containers

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Ref
		err  string
	}{
		{"docker:web", Ref{Engine: Docker, Name: "web"}, ""},
		{"podman:0b8832f61916", Ref{Engine: Podman, Name: "0b8832f61916"}, ""},
		{"containerd:k8s.io/abc-1", Ref{Engine: Containerd, Namespace: "k8s.io", Name: "abc-1"}, ""},
		{"pod:kube-system/coredns-5d78c9869d-x7x2k", Ref{Engine: Pod, Namespace: "kube-system", Name: "coredns-5d78c9869d-x7x2k"}, ""},
		{"docker:", Ref{}, "empty name"},
		{"docker:../etc", Ref{}, "does not start with a letter or digit"},
		{"docker:a/b", Ref{}, "contains '/'"},
		{"docker:a?b", Ref{}, "contains '?'"},
		{"pod:web", Ref{}, "write pod:NAMESPACE/NAME"},
		{"containerd:k8s.io/", Ref{}, "empty name"},
		{"pod:a/b/c", Ref{}, "contains '/'"},
		{"docker:" + strings.Repeat("a", 254), Ref{}, "longer than 253"},
		{"lxc:web", Ref{}, "the engines are docker, podman, containerd and pod"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			switch {
			case tc.err == "" && (err != nil || got != tc.want):
				t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalid)):
				t.Errorf("Parse(%q) error %v; want one saying %q", tc.in, err, tc.err)
			case err == nil && got.String() != tc.in:
				t.Errorf("Parse(%q).String() = %q", tc.in, got.String())
			}
		})
	}
}

func TestCgroupID(t *testing.T) {
	const id = "0b8832f61916cb226cce028e43840d55de17d5e228203cf3815895a00d41d8a0"
	for _, tc := range []struct{ name, cgroup, want string }{
		{"cgroupfs v1", "9:name=systemd:/docker/" + id + "\n8:pids:/docker/" + id + "\n", id},
		{"systemd v2", "0::/system.slice/docker-" + id + ".scope\n", id},
		{"podman", "0::/machine.slice/libpod-" + id + ".scope/container\n", id},
		{"kubelet containerd", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-" + id + ".scope\n", id},
		{"crio", "0::/kubepods/besteffort/pod1/crio-" + id + "\n", id},
		{"host process", "0::/user.slice/user-1000.slice/session-2.scope\n", ""},
		{"not hex", "0::/docker/" + strings.Repeat("z", 64) + "\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cgroupID(tc.cgroup); got != tc.want {
				t.Errorf("cgroupID = %q, want %q", got, tc.want)
			}
		})
	}
}

// writeBundle writes a task bundle as containerd's runc shim leaves it.
func writeBundle(t *testing.T, dir, config string, pid int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o644)
	os.WriteFile(filepath.Join(dir, "init.pid"), []byte(strconv.Itoa(pid)), 0o644)
}

// TestContainerdState reads bundles as containerd and a CRI plugin write
// them: annotations make a pod, a dead task is not running, Docker's own
// namespace is Docker's to name.
func TestContainerdState(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(ContainerdStateEnv, dir)
	t.Setenv(CRIOStateEnv, filepath.Join(dir, "none"))
	t.Setenv(DockerHostEnv, "unix://"+filepath.Join(dir, "no.sock"))
	t.Setenv(ContainerHostEnv, "unix://"+filepath.Join(dir, "no.sock"))
	me := os.Getpid()
	writeBundle(t, filepath.Join(dir, "k8s.io", "sandbox1"), `{"annotations": {"io.kubernetes.cri.sandbox-name": "web-0", "io.kubernetes.cri.sandbox-namespace": "shop", "io.kubernetes.cri.container-type": "sandbox"}}`, me)
	writeBundle(t, filepath.Join(dir, "k8s.io", "app1"), `{"annotations": {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop", "io.kubernetes.cri.container-name": "nginx"}}`, me)
	writeBundle(t, filepath.Join(dir, "default", "plain"), `{"process": {}}`, me)
	writeBundle(t, filepath.Join(dir, "default", "gone"), `{}`, 1<<22) // beyond pid_max: no such process
	writeBundle(t, filepath.Join(dir, "moby", "dockers"), `{}`, me)

	all, errs := List(t.Context())
	for _, err := range errs { // DOCKER_HOST and CONTAINER_HOST name sockets nobody serves
		var ee *EngineError
		if !errors.As(err, &ee) || ee.Engine != Docker && ee.Engine != Podman {
			t.Errorf("List: %v", err)
		}
	}
	if len(errs) != 2 {
		t.Errorf("List: errors %v; want docker's and podman's", errs)
	}
	var got []string
	for _, c := range all {
		got = append(got, c.Target()+" "+c.Name)
	}
	want := "containerd:default/plain plain|pod:shop/web-0 nginx|pod:shop/web-0 sandbox1"
	if strings.Join(got, "|") != want {
		t.Errorf("List = %q, want %q", strings.Join(got, "|"), want)
	}
	// This process is every bundle's: the first one found, in directory order, is it.
	if c, ok := OfProcess(t.Context(), me); !ok || c.Target() != "containerd:default/plain" || c.PID != me {
		t.Errorf("OfProcess(self) = %+v, %v; want containerd:default/plain", c, ok)
	}
	for _, tc := range []struct{ ref, target, err string }{
		{"pod:shop/web-0", "pod:shop/web-0", ""},
		{"containerd:default/plain", "containerd:default/plain", ""},
		{"containerd:default/gone", "", "no such container"},
		{"containerd:moby/dockers", "", "no such container"},
		{"web-0", "pod:shop/web-0", ""},
		{"plain", "containerd:default/plain", ""},
		{"nope", "", "no such container"},
	} {
		ref, err := Parse(tc.ref)
		if !IsTarget(tc.ref) {
			ref, err = Ref{Name: tc.ref}, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := Resolve(t.Context(), ref)
		switch {
		case tc.err == "" && (err != nil || c.Target() != tc.target || c.PID != me):
			t.Errorf("Resolve(%s) = %+v, %v; want %s", tc.ref, c, err, tc.target)
		case tc.err != "" && (err == nil || !errors.Is(err, ErrNoContainer)):
			t.Errorf("Resolve(%s) = %+v, %v; want %s", tc.ref, c, err, tc.err)
		}
	}
	// A pod and a containerd id with one name: ambiguous.
	writeBundle(t, filepath.Join(dir, "default", "web-0"), `{}`, me)
	_, err := Resolve(t.Context(), Ref{Name: "web-0"})
	var amb *AmbiguousError
	if !errors.As(err, &amb) || err.Error() != `"web-0" names 2 containers: containerd:default/web-0, pod:shop/web-0; write one of them` {
		t.Errorf("Resolve(web-0) with two = %v", err)
	}
}

// TestUnreachableEngine: a configured socket nobody serves is an error
// that says what to do; an absent default socket is no engine.
func TestUnreachableEngine(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(DockerHostEnv, "unix://"+filepath.Join(dir, "docker.sock"))
	_, err := Resolve(t.Context(), Ref{Engine: Docker, Name: "web"})
	var ee *EngineError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "set DOCKER_HOST to its socket") {
		t.Errorf("Resolve(docker:web) without dockerd = %v", err)
	}
	t.Setenv(DockerHostEnv, "ssh://host")
	if _, err := Resolve(t.Context(), Ref{Engine: Docker, Name: "web"}); err == nil || !strings.Contains(err.Error(), "over unix:// or tcp://") {
		t.Errorf("Resolve with DOCKER_HOST=ssh://host = %v", err)
	}
}

// BenchmarkResolveOnDisk resolves a pod among 200 containerd tasks, as on
// a crowded Kubernetes node: every bundle's pid file and config is read.
func BenchmarkResolveOnDisk(b *testing.B) {
	dir := b.TempDir()
	b.Setenv(ContainerdStateEnv, dir)
	b.Setenv(CRIOStateEnv, filepath.Join(dir, "none"))
	me := os.Getpid()
	for i := range 200 {
		d := filepath.Join(dir, "k8s.io", "task"+strconv.Itoa(i))
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "config.json"), []byte(`{"annotations": {"io.kubernetes.pod.name": "p`+strconv.Itoa(i)+`", "io.kubernetes.pod.namespace": "shop"}}`), 0o644)
		os.WriteFile(filepath.Join(d, "init.pid"), []byte(strconv.Itoa(me)), 0o644)
	}
	ref := Ref{Engine: Pod, Namespace: "shop", Name: "p199"}
	for b.Loop() {
		if _, err := Resolve(b.Context(), ref); err != nil {
			b.Fatal(err)
		}
	}
}
