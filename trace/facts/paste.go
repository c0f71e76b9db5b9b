package facts

import (
	"fmt"
	"slices"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/names"
	"github.com/nsdump/nsdump/topology/nsstate"
)

// Unpasteable names the first namespace or interface in stored facts that
// a command could not be built on, or says nothing when there is none.
// Live, every name came from the kernel or the command line; in a file,
// any may be a lie. A file's namespace must be a name `ip -n` takes: pid:N
// and paths named what the trace saw then, and aimed at a process now they
// would act on whatever holds that number (the host, for pid:1).
func (f *Facts) Unpasteable() string {
	var bad string
	ns := func(name string) {
		if bad != "" || name == "" {
			return
		}
		if _, ok := f.EngineContainers()[name]; ok {
			return // entered by the engine's pid when the fix runs
		}
		if !cmdline.IsNamed(name) {
			bad = fmt.Sprintf("namespace %q is a process or a path, which names another namespace now", clip(name))
		} else if err := names.ValidateNamespace(name); err != nil {
			bad = clip(err.Error())
		}
	}
	iface := func(name string) {
		if bad == "" && name != "" {
			if err := names.ValidateInterface(name); err != nil {
				bad = clip(err.Error())
			}
		}
	}
	for _, states := range [][]*nsstate.NamespaceState{f.Namespaces, f.After} {
		for _, st := range states {
			ns(st.Name)
			for _, l := range st.Links {
				iface(l.Name)
			}
			for _, n := range st.Neighbors {
				iface(n.Dev)
			}
		}
	}
	for _, lk := range f.Lookups {
		f.checkLookup(lk, ns, iface)
	}
	for _, r := range f.Rules {
		ns(r.Namespace)
	}
	for _, p := range f.Probes {
		ns(p.From)
		ns(p.To)
		for _, h := range append(p.Path[:len(p.Path):len(p.Path)], p.Back...) {
			ns(h.Namespace)
			iface(h.In)
			iface(h.Out)
		}
		for _, lk := range p.RouteGets {
			f.checkLookup(lk, ns, iface)
		}
		if p.MTU != nil {
			iface(p.MTU.Dev)
			iface(p.MTU.Peer)
			if p.MTU.PeerNS != "" {
				ns(p.MTU.PeerNS)
			}
		}
	}
	return bad
}

// EngineContainers are the Docker and Podman containers whose namespaces
// the facts show, by the name they show them by: a command enters one by
// the pid its engine gives when the command runs (cmdline.ShowContainer),
// never by a pid recorded then, nor by `ip -n` (no /run/netns name).
func (f *Facts) EngineContainers() map[string]nsstate.Container {
	m := map[string]nsstate.Container{}
	for _, states := range [][]*nsstate.NamespaceState{f.Namespaces, f.After} {
		for _, st := range states {
			if c := st.Container; c != nil && slices.Contains(cmdline.ContainerEngines, c.Engine) && cmdline.ValidContainerName(c.Name) {
				m[st.Name] = *c
			}
		}
	}
	return m
}

func (f *Facts) checkLookup(lk Lookup, ns, iface func(string)) {
	ns(lk.Namespace)
	iface(lk.Iif)
	iface(lk.Dev)
}
