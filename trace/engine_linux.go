package trace

import (
	"context"
	"regexp"
	"slices"

	"github.com/nsdump/nsdump/containers"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// engineBridge is what Docker and Podman name their bridges.
var engineBridge = regexp.MustCompile(`^(br-[0-9a-f]{12}|docker0|docker_gwbridge|podman[0-9]+|cni-podman[0-9]+)$`)

// gatherEngines asks Docker and Podman for their networks and containers
// when the trace met either: a namespace on the path is a container's,
// or holds a bridge named as theirs. What an engine could not say is a
// gap; an engine that is not there is nothing.
func gatherEngines(ctx context.Context, f *facts.Facts) {
	if !metEngine(f) {
		return
	}
	nets, infos, errs := containers.Inventory(ctx)
	for _, err := range errs {
		f.Gaps = append(f.Gaps, facts.Gap{What: facts.GapEngine, Error: err.Error()})
	}
	if len(nets) == 0 && len(infos) == 0 {
		return
	}
	e := &facts.EngineFacts{Networks: []facts.EngineNetwork{}, Containers: []facts.EngineContainer{}}
	for _, n := range nets {
		e.Networks = append(e.Networks, facts.EngineNetwork{Engine: n.Engine, Name: n.Name, ID: n.ID, Bridge: n.Bridge,
			Subnets: n.Subnets, Internal: n.Internal, ICCOff: n.ICCOff, Isolated: n.Isolated})
	}
	for _, c := range infos {
		ec := facts.EngineContainer{Engine: c.Engine, Name: c.Name, ID: c.ID, State: c.State, Networks: c.Networks, Addresses: c.Addresses}
		for _, p := range c.Ports {
			ec.Ports = append(ec.Ports, facts.PublishedPort{HostIP: p.HostIP, HostPort: p.HostPort, Port: p.Port, Proto: p.Proto})
		}
		e.Containers = append(e.Containers, ec)
	}
	f.Engines = e
}

// metEngine says whether the facts' namespaces show a container of
// Docker or Podman, or one of their bridges.
func metEngine(f *facts.Facts) bool {
	if len(f.EngineContainers()) > 0 {
		return true
	}
	for _, st := range f.Namespaces {
		if slices.ContainsFunc(st.Links, func(l nsstate.LinkState) bool { return engineBridge.MatchString(l.Name) }) {
			return true
		}
	}
	return false
}
