package trace

import (
	"errors"
	"net/netip"

	"github.com/nsdump/nsdump/topology"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
	"github.com/nsdump/nsdump/trace/judge"
	"golang.org/x/sys/unix"
)

// liveWorld is the running kernel, each namespace read once.
type liveWorld struct {
	ts     *topology.Targets
	held   []*topology.NetNS // the namespaces met, held into ts
	states map[string]*nsstate.NamespaceState
	errs   map[string]error
}

func newLiveWorld(ts *topology.Targets) *liveWorld {
	return &liveWorld{ts: ts, states: map[string]*nsstate.NamespaceState{}, errs: map[string]error{}}
}

// close releases the namespaces the world held.
func (w *liveWorld) close() {
	for _, n := range w.held {
		n.Close()
	}
}

func (w *liveWorld) State(ns string) *nsstate.NamespaceState {
	if st, ok := w.states[ns]; ok {
		return st
	}
	if _, failed := w.errs[ns]; failed {
		return nil
	}
	// A namespace the path meets is held from here on: everything the
	// trace does in it reaches the namespace read now.
	n, err := w.ts.Hold(ns)
	if err != nil {
		w.errs[ns] = err
		return nil
	}
	w.held = append(w.held, n)
	st, err := w.ts.GatherState(ns)
	if err != nil {
		w.errs[ns] = err
		return nil
	}
	w.states[ns] = st
	return st
}

func (w *liveWorld) Route(ns string, dst, from netip.Addr, iif string) facts.Lookup {
	return liveLookup(w.ts, ns, dst, from, iif)
}

// liveLookup asks the kernel of ns for its route to dst, as `ip route get`.
func liveLookup(ts *topology.Targets, ns string, dst, from netip.Addr, iif string) facts.Lookup {
	lk := facts.Lookup{Namespace: ns, Dst: dst, Iif: iif}
	if iif != "" {
		lk.From = from // an input lookup needs the packet's source
	}
	lk.Command = lk.RouteGetCommand().String()
	res, err := ts.RouteGet(ns, topology.RouteQuery{Dst: dst, From: lk.From, Iif: iif})
	if err != nil {
		lk.Output = err.Error()
		if re := (*topology.RouteError)(nil); errors.As(err, &re) {
			lk.Errno = unix.ErrnoName(re.Errno)
		}
		if brs, err := ts.BlockingRoutes(ns, dst); err == nil && len(brs) > 0 && iif == "" {
			lk.Blocking = brs[0]
		}
		return lk
	}
	lk.Output, lk.Type, lk.Dev = res.Line, res.Type, res.Dev
	lk.Gateway, _ = netip.ParseAddr(res.Gateway)
	lk.Src, _ = netip.ParseAddr(res.Src)
	switch res.Type {
	case "unicast", "local", "":
		lk.OK = true
	}
	return lk
}

// discoverPaths finds the path each way between a and b (from their
// addresses of one family), the route lookups made on them, and whether
// each goes on past MaxHops namespaces.
func discoverPaths(w judge.World, a, b string, aAddr, bAddr netip.Addr) (ab, ba []facts.Hop, lookups []facts.Lookup, abCut, baCut bool) {
	ab, l1, abCut := judge.Walk(w, a, aAddr, bAddr)
	ba, l2, baCut := judge.Walk(w, b, bAddr, aAddr)
	return ab, ba, append(l1, l2...), abCut, baCut
}
