package judge

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// engineFacts is nfFacts with A and B Docker containers (a on network
// net-a, bridge br-aaaaaaaaaaaa in M; b on net-b, br-bbbbbbbbbbbb) and
// the engine's account of them.
func engineFacts(kind facts.ProbeKind) (*facts.Facts, facts.ProbeFacts) {
	f, p := nfFacts(kind)
	f.Namespaces[0].Container = &nsstate.Container{Engine: "docker", Name: "A", ID: "a1"}
	f.Namespaces[2].Container = &nsstate.Container{Engine: "docker", Name: "B", ID: "b1"}
	f.Namespaces[1].Links = append(f.Namespaces[1].Links, nsstate.LinkState{Name: "br-aaaaaaaaaaaa", Up: true, Carrier: true}, nsstate.LinkState{Name: "br-bbbbbbbbbbbb", Up: true, Carrier: true})
	p.Path[1].In, p.Path[1].Out = "br-aaaaaaaaaaaa", "br-bbbbbbbbbbbb"
	f.Probes[0] = p
	f.Engines = &facts.EngineFacts{
		Networks: []facts.EngineNetwork{
			{Engine: "docker", Name: "net-a", Bridge: "br-aaaaaaaaaaaa"},
			{Engine: "docker", Name: "net-b", Bridge: "br-bbbbbbbbbbbb"},
			{Engine: "docker", Name: "quiet", Bridge: "br-cccccccccccc", ICCOff: true},
		},
		Containers: []facts.EngineContainer{
			{Engine: "docker", Name: "A", ID: "a1", State: "running", Networks: []string{"net-a"}},
			{Engine: "docker", Name: "B", ID: "b1", State: "running", Networks: []string{"net-b"}},
		},
	}
	return f, p
}

func TestEngineWords(t *testing.T) {
	a, b := netip.MustParseAddr("10.96.1.2"), netip.MustParseAddr("10.96.2.2")
	drop := func(chain string, spec ...string) facts.NFDecision {
		return facts.NFDecision{Namespace: "M", Src: a, Dst: b, Proto: 6, DPort: 7096, Family: "ip", Table: "filter", Base: "FORWARD", Chain: chain,
			Verdict: "drop", Path: []string{"FORWARD", chain}, Xtables: true, Rule: "iptables -t filter -A " + chain + " " + strings.Join(spec, " "),
			Spec: spec, WrittenBy: map[bool]string{true: "", false: "docker"}[chain == dockerUserChain]}
	}
	tests := []struct {
		name   string
		edit   func(f *facts.Facts)
		d      *facts.NFDecision
		cause  facts.Cause
		fix    string
		detail []string
	}{
		{name: "isolated networks", d: ptr(drop("DOCKER-ISOLATION-STAGE-2", "-o", "br-bbbbbbbbbbbb", "-j", "DROP")),
			cause: facts.CauseDropped, fix: "docker network connect net-b A",
			detail: []string{"docker isolates its networks from each other: docker:A is on network net-a (bridge br-aaaaaaaaaaaa), docker:B on net-b"}},
		{name: "ICC off", d: ptr(drop("FORWARD", "-i", "br-cccccccccccc", "-o", "br-cccccccccccc", "-j", "DROP")),
			cause: facts.CauseDropped, fix: "",
			detail: []string{"docker network quiet (bridge br-cccccccccccc) has inter-container communication off (com.docker.network.bridge.enable_icc=false)", "No command changes that option"}},
		{name: "DOCKER-USER", d: ptr(drop(dockerUserChain, "-s", "10.96.1.2/32", "-j", "DROP")),
			cause: facts.CauseDropped, fix: "ip netns exec M iptables -t filter -D DOCKER-USER -s 10.96.1.2/32 -j DROP",
			detail: []string{"DOCKER-USER is your own chain"}},
		{name: "internal network", d: ptr(drop("DOCKER-ISOLATION-STAGE-1", "!", "-d", "10.96.1.0/24", "-i", "br-aaaaaaaaaaaa", "-j", "DROP")),
			edit:  func(f *facts.Facts) { f.Engines.Networks[0].Internal = true },
			cause: facts.CauseDropped, fix: "docker network connect net-b A",
			detail: []string{"docker network net-a (bridge br-aaaaaaaaaaaa) is internal (docker network create --internal)"}},
		{name: "podman's isolated network (netavark)",
			d: &facts.NFDecision{Namespace: "M", Src: a, Dst: b, Proto: 6, DPort: 7096, Family: "ip", Table: "filter", Base: "FORWARD", Chain: "NETAVARK_ISOLATION_2",
				Verdict: "drop", Path: []string{"FORWARD", "NETAVARK_ISOLATION_1", "NETAVARK_ISOLATION_2"}, Xtables: true,
				Rule: "iptables -t filter -A NETAVARK_ISOLATION_2 -o br-bbbbbbbbbbbb -j DROP", Spec: []string{"-o", "br-bbbbbbbbbbbb", "-j", "DROP"}, WrittenBy: "podman"},
			edit: func(f *facts.Facts) {
				f.Namespaces[0].Container.Engine, f.Namespaces[2].Container.Engine = "podman", "podman"
				for i := range f.Engines.Networks {
					f.Engines.Networks[i].Engine = "podman"
				}
				f.Engines.Networks[1].Isolated = true
				for i := range f.Engines.Containers {
					f.Engines.Containers[i].Engine = "podman"
				}
			},
			cause: facts.CauseDropped, fix: "podman network connect net-b A",
			detail: []string{"podman isolates network net-b (podman network create --opt isolate=true) from its other networks: podman:A is on network net-a (bridge br-aaaaaaaaaaaa), podman:B on net-b"}},
		{name: "stopped container behind a published port",
			edit: func(f *facts.Facts) {
				f.Engines.Containers = append(f.Engines.Containers, facts.EngineContainer{Engine: "docker", Name: "gone", State: "exited",
					Ports: []facts.PublishedPort{{HostPort: 7096, Port: 80, Proto: "tcp"}}})
				f.Namespaces[2].Container = nil
				f.Namespaces[2].Links = append(f.Namespaces[2].Links, nsstate.LinkState{Name: "docker0"})
				f.Engines.Networks = append(f.Engines.Networks, facts.EngineNetwork{Engine: "docker", Name: "bridge", Bridge: "docker0"})
			},
			fix:    "docker start gone",
			detail: []string{"docker:gone publishes 7096 -> 80, but docker:gone is exited: docker forwards a published port only while its container runs"}},
		{name: "restarting container: no command mends it",
			edit: func(f *facts.Facts) {
				f.Engines.Containers = append(f.Engines.Containers, facts.EngineContainer{Engine: "docker", Name: "loop", State: "restarting",
					Ports: []facts.PublishedPort{{HostIP: netip.MustParseAddr("10.96.2.2"), HostPort: 7096, Port: 80, Proto: "tcp"}}})
				f.Namespaces[2].Container = nil
				f.Namespaces[2].Links = append(f.Namespaces[2].Links, nsstate.LinkState{Name: "docker0"})
				f.Engines.Networks = append(f.Engines.Networks, facts.EngineNetwork{Engine: "docker", Name: "bridge", Bridge: "docker0"})
			},
			fix:    "",
			detail: []string{"docker:loop is restarting", "it keeps exiting (docker logs loop says why)"}},
		{name: "a port published on another address is not this one",
			edit: func(f *facts.Facts) {
				f.Engines.Containers = append(f.Engines.Containers, facts.EngineContainer{Engine: "docker", Name: "elsewhere", State: "exited",
					Ports: []facts.PublishedPort{{HostIP: netip.MustParseAddr("192.0.2.1"), HostPort: 7096, Port: 80, Proto: "tcp"}}})
				f.Namespaces[2].Container = nil
				f.Namespaces[2].Links = append(f.Namespaces[2].Links, nsstate.LinkState{Name: "docker0"})
				f.Engines.Networks = append(f.Engines.Networks, facts.EngineNetwork{Engine: "docker", Name: "bridge", Bridge: "docker0"})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, p := engineFacts(facts.KindTCP)
			if tc.edit != nil {
				tc.edit(f)
			}
			if tc.d != nil {
				f.NFTrace = []facts.NFDecision{*tc.d}
			}
			for shown, c := range f.EngineContainers() {
				undo, err := cmdline.ShowContainer(shown, c.Engine, c.Name)
				if err != nil {
					t.Fatal(err)
				}
				defer undo()
			}
			v := Judge(f, p)
			if tc.cause != "" && (v.Cause != tc.cause || v.Namespace != "M") {
				t.Errorf("%s in %s, want %s in M: %s", v.Cause, v.Namespace, tc.cause, v.Detail)
			}
			if v.Fix != tc.fix {
				t.Errorf("fix %q, want %q (%s)", v.Fix, tc.fix, v.Detail)
			}
			for _, w := range tc.detail {
				if !strings.Contains(v.Detail, w) {
					t.Errorf("detail lacks %q: %s", w, v.Detail)
				}
			}
			if tc.detail == nil && strings.Contains(v.Detail, "publishes") {
				t.Errorf("detail names a publication that is not the probe's: %s", v.Detail)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
