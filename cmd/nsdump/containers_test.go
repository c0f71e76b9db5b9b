package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/containers"
	"github.com/nsdump/nsdump/internal/enginetest"
	"golang.org/x/sys/unix"
)

// lsEntry is what the container tests read of ls --json.
type lsEntry struct {
	Name      string
	Inode     uint64
	Container *struct {
		Engine, Name, ID string
		PID              int
	}
	Containers []struct {
		Engine, Name, ID string
		PID              int
		Pod              string `json:"pod"`
		PodNamespace     string `json:"pod_namespace"`
	}
	Interfaces []struct {
		Name      string
		Addresses []string
	}
}

// traceEndpoint is trace --json's from and to.
type traceEndpoint struct {
	Namespace string
	Inode     uint64
	Container *containerJSON
}

type containerJSON struct{ Engine, Name, ID string }

func lsJSON(t *testing.T, args ...string) []lsEntry {
	t.Helper()
	out, e, code := nsdump(append([]string{"ls", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("ls --json %v: exit %d: %s", args, code, e)
	}
	var res struct{ Namespaces []lsEntry }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("ls --json %v: %v\n%s", args, err, out)
	}
	return res.Namespaces
}

func netnsInode(t *testing.T, pid int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestDockerContainersByName runs real Docker containers on a user network
// (dockerd inside a namespace of the test's own) and a Kubernetes-like pod
// (containerd's on-disk bundles), and names them as a user would.
func TestDockerContainersByName(t *testing.T) {
	d := enginetest.StartDocker(t, "nsdct")
	c := enginetest.StartContainerd(t, "nsdct")
	t.Setenv("DOCKER_HOST", d.Host)
	t.Setenv("NSDUMP_CONTAINERD_STATE", c.State)
	// Podman, CRI-O: none here, whatever the host runs.
	t.Setenv("CONTAINER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-podman.sock"))
	t.Setenv("NSDUMP_CRIO_STATE", filepath.Join(t.TempDir(), "no-crio"))
	d.Docker("network", "create", "nsdct-net")
	ids := map[string]string{"web": d.Run("web", "--network", "nsdct-net"), "db": d.Run("db", "--network", "nsdct-net")}
	pids := map[string]int{}
	addrs := map[string]string{}
	for name := range ids {
		var pid int
		fmt.Sscan(d.Docker("inspect", "-f", "{{.State.Pid}}", name), &pid)
		pids[name] = pid
		addrs[name] = d.Docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name)
	}
	// A pod of two containers sharing one namespace, and a pod whose name
	// a Docker container also has.
	c.RunPod("nsdct-shop-app", "shop", "cart", "app")
	c.RunPodJoining("nsdct-shop-side", "shop", "cart", "sidecar", "nsdct-shop-app")
	d.Run("cache")
	c.RunPod("nsdct-dup", "shop", "cache", "main")

	t.Run("targets", func(t *testing.T) {
		for _, target := range []string{"docker:web", "web", "docker:" + ids["web"], "docker:" + ids["web"][:12], fmt.Sprintf("pid:%d", pids["web"])} {
			got := lsJSON(t, target)
			if len(got) != 1 || got[0].Name != "web" || got[0].Inode != netnsInode(t, pids["web"]) || got[0].Container == nil ||
				got[0].Container.Engine != "docker" || got[0].Container.Name != "web" || got[0].Container.ID != ids["web"] {
				t.Errorf("ls --json %s: %+v; want web, net:[%d], docker id %s", target, got, netnsInode(t, pids["web"]), ids["web"])
			}
		}
		out, e, code := nsdump("ls", "pod:shop/cart")
		if code != 0 || !strings.HasPrefix(out, "pod:shop/cart (net:[") {
			t.Errorf("ls pod:shop/cart: exit %d: %s%s", code, out, e)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"ls", "cache"}, `"cache" names 2 containers: docker:cache, pod:shop/cache; write one of them`},
			{[]string{"ls", "docker:nope"}, "docker:nope: no such container"},
			{[]string{"ls", "nsdct-nope"}, "no container has that name"},
			{[]string{"ls", "docker:we b"}, "invalid container name"},
			{[]string{"ls", "pod:shop"}, "write pod:NAMESPACE/NAME"},
			{[]string{"ls", "containerd:k8s.io/nope"}, "no such container among the running tasks under " + c.State},
			{[]string{"trace", "web", "nsdct-nope"}, "no container has that name"},
		} {
			_, e, code := nsdump(tc.args...)
			if code != 2 || strings.Count(e, "\n") != 1 || !strings.Contains(e, tc.want) {
				t.Errorf("%v: exit %d, %q; want exit 2 and one line with %q", tc.args, code, e, tc.want)
			}
		}
	})

	t.Run("ls --containers", func(t *testing.T) {
		out, e, code := nsdump("ls", "--containers")
		if code != 0 {
			t.Fatalf("ls --containers: exit %d: %s", code, e)
		}
		for name, id := range ids {
			want := fmt.Sprintf("%s (net:[%d])\n  docker %s id %s pid %d\n", name, netnsInode(t, pids[name]), name, id[:12], pids[name])
			if !strings.Contains(out, want) || !strings.Contains(out, addrs[name]+"/") {
				t.Errorf("ls --containers lacks %q and %s:\n%s", want, addrs[name], out)
			}
		}
		if strings.Count(out, "pod:shop/cart (net:[") != 1 || !strings.Contains(out, " app id nsdct-shop-app ") || !strings.Contains(out, " sidecar id nsdct-shop-side ") {
			t.Errorf("ls --containers: pod shop/cart not listed once with both containers:\n%s", out)
		}
		got := lsJSON(t, "--containers")
		byName := map[string]lsEntry{}
		for _, n := range got {
			byName[n.Name] = n
		}
		web, cart := byName["web"], byName["pod:shop/cart"]
		if len(web.Containers) != 1 || web.Containers[0].ID != ids["web"] || web.Containers[0].PID != pids["web"] ||
			!slices.ContainsFunc(web.Interfaces, func(i struct {
				Name      string
				Addresses []string
			}) bool {
				return i.Name == "eth0" && len(i.Addresses) > 0 && strings.HasPrefix(i.Addresses[0], addrs["web"]+"/")
			}) {
			t.Errorf("ls --containers --json: web is %+v", web)
		}
		if len(cart.Containers) != 2 || cart.Containers[0].Pod != "cart" || cart.Containers[0].PodNamespace != "shop" {
			t.Errorf("ls --containers --json: pod shop/cart is %+v", cart)
		}
	})

	t.Run("capture by name", func(t *testing.T) { captureByName(t, pids["db"], addrs["web"]) })

	t.Run("trace by name", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "web-db.pcapng")
		out, e, code := nsdump("trace", "web", "db", "--timeout", "5s", "-w", file)
		if code != 0 {
			t.Fatalf("trace web db: exit %d\n%s%s", code, out, e)
		}
		for _, want := range []string{
			fmt.Sprintf("trace web %s <-> db %s", addrs["web"], addrs["db"]),
			"path web->db: web eth0 > ", " (bridge) ", "> eth0 db\n",
			"seen: web/eth0 Out request", "db/eth0 In request",
			"all probes ok",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("trace web db lacks %q:\n%s", want, out)
			}
		}
		out, e, code = nsdump("trace", "docker:web", "db", "--count", "1", "--timeout", "5s", "--json")
		var res struct{ From, To traceEndpoint }
		if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
			t.Fatalf("trace --json: exit %d, %v\n%s%s", code, err, out, e)
		}
		for name, ep := range map[string]traceEndpoint{"web": res.From, "db": res.To} {
			want := containerJSON{"docker", name, ids[name]}
			if ep.Namespace != name || ep.Inode != netnsInode(t, pids[name]) || ep.Container == nil || *ep.Container != want {
				t.Errorf("trace --json endpoint %s: %+v (container %+v), want container %+v", name, ep, ep.Container, want)
			}
		}
		names := tshark(t, file, "frame.interface_name")
		for _, want := range []string{"web/eth0", "db/eth0"} {
			if !slices.Contains(names, want) {
				t.Errorf("pcapng interface names lack %s: %v", want, uniq(names))
			}
		}
	})

	t.Run("fix by name", func(t *testing.T) { fixByName(t, pids["web"]) })
}

// captureByName captures at both containers, named two ways, while db
// pings web once: four sightings, each on a capture point named by the
// container.
func captureByName(t *testing.T, dbPID int, webAddr string) {
	file := filepath.Join(t.TempDir(), "names.pcapng")
	cmd, _, _ := startCapture(t, "web/eth0", "docker:db", "-c", "4", "-w", file, "icmp")
	stderr := cmd.Stderr.(*lockedWriter) // written while the capture runs
	if !strings.Contains(stderr.String(), "capturing on web/eth0, db/eth0") {
		t.Errorf("capture's first line: %q", stderr.String())
	}
	ping := exec.Command("nsenter", "-t", strconv.Itoa(dbPID), "-n", "ping", "-c1", "-W5", webAddr)
	if out, err := ping.CombinedOutput(); err != nil {
		t.Fatalf("ping from db: %v\n%s", err, out)
	}
	if err := ends(t, cmd); err != nil {
		t.Fatalf("capture -c 4: %v\n%s", err, stderr.String())
	}
	got := tshark(t, file, "frame.interface_name", "icmp.type")
	want := []string{"db/eth0\t8", "web/eth0\t8", "web/eth0\t0", "db/eth0\t0"}
	if !slices.Equal(got, want) {
		t.Errorf("captured %q, want %q", got, want)
	}
	// Wireshark's frame.interface_description names the container.
	for _, d := range tshark(t, file, "frame.interface_name", "frame.interface_description") {
		name, desc, _ := strings.Cut(d, "\t")
		if c, _, _ := strings.Cut(name, "/"); !strings.Contains(desc, "container docker "+c+" ") {
			t.Errorf("interface %s is described %q, without its container", name, desc)
		}
	}
}

// fixByName breaks web (its eth0 down), traces web db with -w, runs the
// fix the file's re-judged verdict prints (it enters web by the pid
// dockerd gives when it runs: iproute2 takes no container name, and a pid
// printed at trace time names another process after a restart), and
// traces again: all ok. The live trace prints the same fix.
func fixByName(t *testing.T, webPID int) {
	web := strconv.Itoa(webPID)
	if out, err := exec.Command("nsenter", "-t", web, "-n", "ip", "link", "set", "eth0", "down").CombinedOutput(); err != nil {
		t.Fatalf("ip link set eth0 down in web: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "web-down.pcapng")
	out, e, code := nsdump("trace", "web", "db", "--timeout", "1s", "--count", "1", "-w", file)
	want := `nsenter -t "$(docker inspect -f '{{.State.Pid}}' web)" -n ip link set eth0 up`
	if live := firstFix(out); code != 1 || live != want {
		t.Fatalf("trace with web's eth0 down: exit %d, fix %q; want %q\n%s%s", code, live, want, out, e)
	}
	read, e, _ := nsdump("read", file)
	fix := firstFix(read)
	if fix != want || strings.Contains(read, "ip -n web") || strings.Contains(read, "no fix or route lookup shown") {
		t.Fatalf("read of the trace's file: fix %q; want %q\n%s%s", fix, want, read, e)
	}
	if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
		t.Fatalf("the printed fix %q: %v\n%s", fix, err, out)
	}
	if out, e, code := nsdump("trace", "web", "db", "--timeout", "5s", "--count", "1"); code != 0 {
		t.Errorf("trace after the fix %q: exit %d\n%s%s", fix, code, out, e)
	}
}

// firstFix is the first fix: line of a trace's or read's text.
func firstFix(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if f, ok := strings.CutPrefix(strings.TrimSpace(line), "fix:"); ok {
			return strings.TrimSpace(f)
		}
	}
	return ""
}

func uniq(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// TestPodmanContainersByName is the same with Podman's API service:
// podman:NAME, a bare name, ls --containers, a trace by name.
func TestPodmanContainersByName(t *testing.T) {
	p := enginetest.StartPodman(t, "nsdct")
	p.AskOnly(t)
	net := p.Network("nsdct-pnet")
	ids := map[string]string{"web": p.Run("web", "--network", net), "db": p.Run("db", "--network", net)}
	pids := map[string]int{}
	for name := range ids {
		var pid int
		fmt.Sscan(p.Podman("inspect", "-f", "{{.State.Pid}}", name), &pid)
		pids[name] = pid
	}
	// The engine's words need the network's bridge: Podman's own list
	// names it (its Docker-compatible one does not).
	nets, _, errs := containers.Inventory(context.Background())
	if i := slices.IndexFunc(nets, func(n containers.Network) bool { return n.Engine == "podman" && n.Name == net }); i < 0 || nets[i].Bridge == "" ||
		exec.Command("ip", "-n", p.Netns, "link", "show", "dev", nets[i].Bridge).Run() != nil {
		t.Errorf("podman's networks: %+v (%v); want %s with its bridge in %s", nets, errs, net, p.Netns)
	}
	for _, target := range []string{"podman:web", "web", "podman:" + ids["web"]} {
		got := lsJSON(t, target)
		if len(got) != 1 || got[0].Name != "web" || got[0].Inode != netnsInode(t, pids["web"]) || got[0].Container == nil ||
			got[0].Container.Engine != "podman" || got[0].Container.ID != ids["web"] {
			t.Errorf("ls --json %s: %+v; want web, net:[%d], podman id %s", target, got, netnsInode(t, pids["web"]), ids["web"])
		}
	}
	out, e, code := nsdump("ls", "--containers")
	for name, id := range ids {
		if want := fmt.Sprintf("%s (net:[%d])\n  podman %s id %s pid %d\n", name, netnsInode(t, pids[name]), name, id[:12], pids[name]); code != 0 || !strings.Contains(out, want) {
			t.Errorf("ls --containers: exit %d, lacks %q:\n%s%s", code, want, out, e)
		}
	}
	out, e, code = nsdump("trace", "web", "db", "--timeout", "5s")
	// Podman's namespaces are also /run/netns/netns-UUID: shown once, by
	// the container's name.
	if code != 0 || !strings.Contains(out, "path web->db: web eth0 > ") || !strings.Contains(out, "> eth0 db\n") ||
		!strings.Contains(out, "seen: web/eth0 Out request") || !strings.Contains(out, "all probes ok") || strings.Contains(out, "netns-") {
		t.Errorf("trace web db: exit %d\n%s%s", code, out, e)
	}
}
