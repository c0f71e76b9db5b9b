package trace

import (
	"context"
	"regexp"
	"slices"

	"github.com/nsdump/nsdump/containers"
	"github.com/nsdump/nsdump/topology"
	judge "github.com/nsdump/nsdump/trace/judge"
)

// engineBridge is what Docker and Podman name their bridges.
var engineBridge = regexp.MustCompile(`^(br-[0-9a-f]{12}|docker0|docker_gwbridge|podman[0-9]+|cni-podman[0-9]+)$`)

// gatherEngines asks Docker and Podman for their networks and containers
// when the trace met either: a namespace on the path is a container's,
// or holds a bridge named as theirs. What an engine could not say is a
// gap; an engine that is not there is nothing.
func gatherEngines(ctx context.Context, f *Facts) {
	if !metEngine(f) {
		return
	}
	nets, infos, errs := containers.Inventory(ctx)
	for _, err := range errs {
		f.Gaps = append(f.Gaps, Gap{What: judge.GapEngine, Error: err.Error()})
	}
	if len(nets) == 0 && len(infos) == 0 {
		return
	}
	e := &judge.EngineFacts{Networks: []judge.EngineNetwork{}, Containers: []judge.EngineContainer{}}
	for _, n := range nets {
		e.Networks = append(e.Networks, judge.EngineNetwork{Engine: n.Engine, Name: n.Name, ID: n.ID, Bridge: n.Bridge,
			Subnets: n.Subnets, Internal: n.Internal, ICCOff: n.ICCOff})
	}
	for _, c := range infos {
		ec := judge.EngineContainer{Engine: c.Engine, Name: c.Name, ID: c.ID, State: c.State, Networks: c.Networks, Addresses: c.Addresses}
		for _, p := range c.Ports {
			ec.Ports = append(ec.Ports, judge.PublishedPort{HostIP: p.HostIP, HostPort: p.HostPort, Port: p.Port, Proto: p.Proto})
		}
		e.Containers = append(e.Containers, ec)
	}
	f.Engines = e
}

// metEngine says whether the facts' namespaces show a container of
// Docker or Podman, or one of their bridges.
func metEngine(f *Facts) bool {
	if len(f.EngineContainers()) > 0 {
		return true
	}
	for _, st := range f.Namespaces {
		if slices.ContainsFunc(st.Links, func(l topology.LinkState) bool { return engineBridge.MatchString(l.Name) }) {
			return true
		}
	}
	return false
}
