package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/internal/enginetest"
	"github.com/nsdump/nsdump/topology"
)

// engineProbe is what the engine tests read of a trace --json probe.
type engineProbe struct {
	Direction, Kind, Cause, Namespace, Detail, Fix string
	OK                                             bool
}

// engineTrace runs trace --json and returns its probes by "DIR KIND".
func engineTrace(t *testing.T, args ...string) (map[string]engineProbe, string) {
	t.Helper()
	out, e, code := nsdump(append([]string{"trace", "--json", "--count", "1", "--timeout", "2s"}, args...)...)
	var res struct {
		Probes []engineProbe
		Path   map[string][]struct {
			Namespace string
			Container *containerJSON
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code == 2 {
		t.Fatalf("trace %v: exit %d, %v\n%s%s", args, code, err, out, e)
	}
	probes := map[string]engineProbe{}
	for _, p := range res.Probes {
		probes[p.Direction+" "+p.Kind] = p
	}
	return probes, out
}

// dockerClient makes a namespace of the test's own outside dockerd's,
// routed to it as a host's neighbour is: cl 10.77.0.2/24 on a veth whose
// peer in dockerd's namespace has 10.77.0.1, the published ports' address.
func dockerClient(t *testing.T, d *enginetest.Docker) string {
	t.Helper()
	cl := fmt.Sprintf("n3e-cl%04x", os.Getpid()&0xffff)
	if err := topology.CreateNamespace(cl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { topology.DeleteNamespace(cl) })
	veth := fmt.Sprintf("n3ev%04x", os.Getpid()&0xffff)
	for _, c := range [][]string{
		{"ip", "-n", cl, "link", "add", veth, "type", "veth", "peer", "name", veth + "h", "netns", d.Netns},
		{"ip", "-n", cl, "addr", "add", "10.77.0.2/24", "dev", veth},
		{"ip", "-n", cl, "link", "set", veth, "up"},
		{"ip", "-n", cl, "link", "set", "lo", "up"},
		{"ip", "-n", cl, "route", "add", "default", "via", "10.77.0.1"},
		{"ip", "-n", d.Netns, "addr", "add", "10.77.0.1/24", "dev", veth + "h"},
		{"ip", "-n", d.Netns, "link", "set", veth + "h", "up"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	return cl
}

// runFix runs a printed fix as printed, by sh, with the test's
// DOCKER_HOST (the docker CLI in it asks the test's dockerd).
func runFix(t *testing.T, fix string) {
	t.Helper()
	if out, err := exec.Command("sh", "-c", fix).CombinedOutput(); err != nil {
		t.Fatalf("the printed fix %q: %v\n%s", fix, err, out)
	}
}

// TestDockerEngineWords makes each fault Docker makes (isolated user
// networks, ICC off, an internal network, a drop in DOCKER-USER, a
// published port whose container does not listen, a stopped container
// behind a published port) with a real dockerd in a namespace of the
// test's own, traces it by container name, and checks that the verdict
// names the cause where it lies, Docker's network or container, and the
// engine's fix; where the fix is a command it is run as printed and the
// trace repeated.
func TestDockerEngineWords(t *testing.T) {
	d := enginetest.StartDocker(t, "n3e")
	d.AskOnly(t)
	d.Docker("network", "create", "n3e-a")
	d.Docker("network", "create", "n3e-b")
	d.Run("web", "--network", "n3e-a")
	d.Run("db", "--network", "n3e-b")
	host := d.Netns

	t.Run("isolated networks", func(t *testing.T) {
		probes, out := engineTrace(t, "web", "db")
		for _, kind := range []string{"icmp-echo", "tcp"} {
			p := probes["web->db "+kind]
			if p.Cause != "dropped" || p.Namespace != host || p.Fix != "docker network connect n3e-b web" ||
				!strings.Contains(p.Detail, "DOCKER-ISOLATION-STAGE-2") ||
				!strings.Contains(p.Detail, "docker isolates its networks from each other: docker:web is on network n3e-a (bridge br-") {
				t.Fatalf("web->db %s: %+v; want dropped@%s by Docker's isolation, fix docker network connect n3e-b web\n%s", kind, p, host, out)
			}
		}
		runFix(t, probes["web->db tcp"].Fix)
		// web is now on both networks. From its n3e-a address db still
		// reaches it only across the isolation (as the db->web verdict
		// said, with its own fix): from its n3e-b address all is ok.
		webB := d.Docker("inspect", "-f", `{{(index .NetworkSettings.Networks "n3e-b").IPAddress}}`, "web")
		if out, e, code := nsdump("trace", "web", "db", "--from", webB, "--count", "1", "--timeout", "5s"); code != 0 {
			t.Errorf("trace web db --from %s after the fix: exit %d\n%s%s", webB, code, out, e)
		}
	})

	t.Run("ICC off", func(t *testing.T) {
		d.Docker("network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "n3e-noicc")
		d.Run("i1", "--network", "n3e-noicc")
		d.Run("i2", "--network", "n3e-noicc")
		probes, out := engineTrace(t, "i1", "i2")
		p := probes["i1->i2 tcp"]
		// No command is the fix: the option is set when the network is
		// made, and recreating it disconnects every container (the verdict
		// says how); deleting Docker's rule lasts until dockerd writes it
		// again. So nothing is applied here.
		if p.Cause != "dropped" || p.Namespace != host || p.Fix != "" ||
			!strings.Contains(p.Detail, "docker network n3e-noicc (bridge br-") ||
			!strings.Contains(p.Detail, "has inter-container communication off (com.docker.network.bridge.enable_icc=false)") ||
			!strings.Contains(p.Detail, "docker network rm n3e-noicc, docker network create n3e-noicc") {
			t.Errorf("i1->i2 tcp: %+v; want dropped@%s naming ICC off, no fix\n%s", p, host, out)
		}
	})

	t.Run("internal network", func(t *testing.T) {
		d.Docker("network", "create", "--internal", "n3e-int")
		d.Run("lone", "--network", "n3e-int")
		probes, out := engineTrace(t, "lone", "db")
		p := probes["lone->db tcp"]
		// dockerd 20.10 gives an internal network's containers a default
		// route and drops at the bridge what leaves the network.
		if p.Cause != "dropped" || p.Namespace != host || p.Fix != "docker network connect n3e-b lone" ||
			!strings.Contains(p.Detail, "docker network n3e-int (bridge br-") ||
			!strings.Contains(p.Detail, "is internal (docker network create --internal): docker drops whatever would leave or enter it") {
			t.Fatalf("lone->db tcp: %+v; want dropped@%s naming the internal network, fix docker network connect n3e-b lone\n%s", p, host, out)
		}
		runFix(t, p.Fix)
		// From its n3e-int address lone stays internal; from its new one
		// on n3e-b, it reaches db.
		loneB := d.Docker("inspect", "-f", `{{(index .NetworkSettings.Networks "n3e-b").IPAddress}}`, "lone")
		if out, e, code := nsdump("trace", "lone", "db", "--from", loneB, "--count", "1", "--timeout", "5s"); code != 0 {
			t.Errorf("trace lone db --from %s after the fix: exit %d\n%s%s", loneB, code, out, e)
		}
	})

	cl := dockerClient(t, d)
	// publish runs a container of n3e-a publishing hostPort to 8080,
	// where busybox httpd listens when listen is set.
	publish := func(name, hostPort string, listen bool) {
		cmd := []string{"sleep", "1000000"}
		if listen {
			cmd = []string{"httpd", "-f", "-p", "8080"}
		}
		d.Docker(append([]string{"run", "-d", "--name", name, "--network", "n3e-a", "-p", hostPort + ":8080", d.Image}, cmd...)...)
	}
	// published traces cl to dockerd's namespace on port, with nothing of
	// trace's listening: its cl->host tcp probe is the published port's.
	published := func(t *testing.T, port string) (engineProbe, string) {
		probes, out := engineTrace(t, cl, host, "--to", "10.77.0.1", "--port", port, "--no-listen")
		return probes[cl+"->"+host+" tcp"], out
	}

	t.Run("DOCKER-USER", func(t *testing.T) {
		publish("site", "6543", true)
		if p, out := published(t, "6543"); !p.OK {
			t.Fatalf("the published port before any rule: %+v\n%s", p, out)
		}
		if out, err := exec.Command("nsenter", "--net=/run/netns/"+host, "iptables", "-I", "DOCKER-USER", "-s", "10.77.0.2", "-j", "DROP").CombinedOutput(); err != nil {
			t.Fatalf("iptables -I DOCKER-USER: %v\n%s", err, out)
		}
		p, out := published(t, "6543")
		want := "ip netns exec " + host + " iptables -t filter -D DOCKER-USER -s 10.77.0.2/32 -j DROP"
		if p.Cause != "dropped" || p.Namespace != host || p.Fix != want ||
			!strings.Contains(p.Detail, "DOCKER-USER is your own chain") || strings.Contains(p.Detail, "the rule is docker's") {
			t.Fatalf("DOCKER-USER drop: %+v; want dropped@%s, the user's own rule, fix %q\n%s", p, host, want, out)
		}
		runFix(t, p.Fix)
		if p, out := published(t, "6543"); !p.OK {
			t.Errorf("after the fix: %+v\n%s", p, out)
		}
	})

	t.Run("published port, no listener", func(t *testing.T) {
		publish("idle", "6544", false)
		p, out := published(t, "6544")
		// idle's namespace is off the path (the probe is to dockerd's
		// address); the translation leads there, found behind the bridge
		// by process, so it is shown as pid:N.
		idle := "pid:" + d.Docker("inspect", "-f", "{{.State.Pid}}", "idle")
		if p.Cause != "port-closed" || p.Namespace != idle ||
			!strings.HasPrefix(p.Detail, "docker:idle publishes 6544 -> 8080; nothing listens on 8080 in idle") {
			t.Fatalf("published port without listener: %+v; want port-closed@idle naming the publication\n%s", p, out)
		}
		// The printed fix starts a stand-in listener (nc) that takes one
		// connection; the real fix is the container's own server, started
		// here as a user would.
		d.Docker("exec", "-d", "idle", "httpd", "-p", "8080")
		if p, out := published(t, "6544"); !p.OK {
			t.Errorf("with a listener in idle: %+v\n%s", p, out)
		}
	})

	t.Run("stopped container", func(t *testing.T) {
		publish("gone", "6545", true)
		d.Docker("stop", "-t", "0", "gone")
		p, out := published(t, "6545")
		if p.OK || p.Fix != "docker start gone" ||
			!strings.HasPrefix(p.Detail, "docker:gone publishes 6545 -> 8080, but docker:gone is exited: docker forwards a published port only while its container runs") {
			t.Fatalf("stopped container behind a published port: %+v; want it named, fix docker start gone\n%s", p, out)
		}
		runFix(t, p.Fix)
		if p, out := published(t, "6545"); !p.OK {
			t.Errorf("after docker start gone: %+v\n%s", p, out)
		}
	})
}

// TestPodmanEngineWords makes Podman's own isolation (two networks made
// with --opt isolate=true; on the CNI plugins here, the firewall
// plugin's CNI-ISOLATION-STAGE chains) with a real Podman in a namespace
// of the test's own, traces it by container name, checks that the
// verdict names Podman's networks and gives podman network connect, runs
// the fix as printed (CONTAINER_HOST makes that podman ask the test's
// service) and traces again.
func TestPodmanEngineWords(t *testing.T) {
	p := enginetest.StartPodman(t, "n3e")
	p.AskOnly(t)
	na := p.Network("n3e-pa", "--opt", "isolate=true")
	nb := p.Network("n3e-pb", "--opt", "isolate=true")
	p.Run("web", "--network", na)
	p.Run("db", "--network", nb)
	probes, out := engineTrace(t, "web", "db")
	want := fmt.Sprintf("podman isolates network %s (podman network create --opt isolate=true) from its other networks: podman:web is on network %s (bridge ", nb, na)
	for _, kind := range []string{"icmp-echo", "tcp"} {
		pr := probes["web->db "+kind]
		if pr.Cause != "dropped" || pr.Namespace != p.Netns || pr.Fix != "podman network connect "+nb+" web" || !strings.Contains(pr.Detail, want) {
			t.Fatalf("web->db %s: %+v; want dropped@%s by Podman's isolation (%s), fix podman network connect %s web\n%s", kind, pr, p.Netns, want, nb, out)
		}
	}
	runFix(t, probes["web->db tcp"].Fix)
	webB := p.Podman("inspect", "-f", fmt.Sprintf(`{{(index .NetworkSettings.Networks %q).IPAddress}}`, nb), "web")
	if out, e, code := nsdump("trace", "web", "db", "--from", webB, "--count", "1", "--timeout", "5s"); code != 0 {
		t.Errorf("trace web db --from %s after the fix: exit %d\n%s%s", webB, code, out, e)
	}
}
