package judge

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/trace/facts"
)

// The engine's words (issue 24 item 2): when a rule, chain or bridge of
// Docker (or Podman's netavark) decided a probe, the verdict says which network and
// container, as the engine names them, and gives the engine's fix, not
// the rule's (the engine writes its rules again). Judged from what the
// engines said when the trace ran (EngineFacts), like every other fact.

// engines are the facts' engines, with what the judgement asks of them.
type engines struct{ *facts.EngineFacts }

// The chain Docker leaves to its users.
const dockerUserChain = "DOCKER-USER"

// engineWords adds the engine's words to v where the engine decided.
func engineWords(f *facts.Facts, p facts.ProbeFacts, v Verdict) Verdict {
	e := engines{f.Engines}
	if v.OK {
		return v
	}
	d, decided := deciding(f, p)
	decided = decided && v.Namespace == d.Namespace && (v.Cause == facts.CauseDropped || v.Cause == facts.CauseRejected)
	if f.Engines == nil {
		if decided && d.WrittenBy != "" {
			for _, g := range f.Gaps {
				if g.What == facts.GapEngine {
					v.Detail += "; " + g.String()
				}
			}
		}
		return v
	}
	if decided {
		return e.ruleWords(f, p, v, d)
	}
	if nv, ok := e.publishedWords(f, p, v); ok {
		return nv
	}
	if v.Cause == facts.CauseNoRoute {
		return e.internalWords(f, p, v)
	}
	return v
}

// ruleWords names the network behind a Docker rule that dropped p.
func (e engines) ruleWords(f *facts.Facts, p facts.ProbeFacts, v Verdict, d facts.NFDecision) Verdict {
	in, out := bridges(d, p)
	nin, nout := e.network(in), e.network(out)
	switch {
	case d.Chain == dockerUserChain:
		v.Detail += "; DOCKER-USER is your own chain: Docker only jumps to it from FORWARD, before its own rules, and never writes or deletes a rule in it, so this drop is a rule of yours (or of a tool of yours); the fix deletes it"
	case nin != nil && nin.Internal || nout != nil && nout.Internal:
		n := nin
		if n == nil || !n.Internal {
			n = nout
		}
		v.Detail += fmt.Sprintf("; %s network %s (bridge %s) is internal (%s network create --internal): %s drops whatever would leave or enter it from elsewhere", n.Engine, n.Name, n.Bridge, n.Engine, n.Engine)
		v.Fix = e.leaveInternal(f, p, n)
	case strings.HasPrefix(d.Chain, "DOCKER-ISOLATION-STAGE") && nin != nil && nout != nil && nin != nout:
		v.Detail += fmt.Sprintf("; docker isolates its networks from each other: %s is on network %s (bridge %s), %s on %s (bridge %s), and a container reaches another network's only by joining it",
			shown(f, p.From), nin.Name, nin.Bridge, shown(f, p.To), nout.Name, nout.Bridge)
		v.Fix = e.joinFix(f, p, nout)
	case podmanIsolation(d.Chain) && nin != nil && nout != nil && nin != nout && nin.Engine == "podman" && nout.Engine == "podman":
		iso := nout
		if !iso.Isolated {
			iso = nin
		}
		v.Detail += fmt.Sprintf("; podman isolates network %s (podman network create --opt isolate=true) from its other networks: %s is on network %s (bridge %s), %s on %s (bridge %s), and a container reaches another network's only by joining it",
			iso.Name, shown(f, p.From), nin.Name, nin.Bridge, shown(f, p.To), nout.Name, nout.Bridge)
		v.Fix = e.joinFix(f, p, nout)
	case in != "" && in == out && nin != nil && nin.ICCOff:
		v.Detail += fmt.Sprintf("; %s network %s (bridge %s) has inter-container communication off (com.docker.network.bridge.enable_icc=false): %s drops traffic between its containers. No command changes that option: recreate the network without it (%s network rm %s, %s network create %s, then connect its containers again), or connect both containers to another network",
			nin.Engine, nin.Name, nin.Bridge, nin.Engine, nin.Engine, nin.Name, nin.Engine, nin.Name)
		v.Fix = "" // deleting the rule lasts until the engine writes it again
	}
	return v
}

// podmanIsolation says whether chain is one of the isolation chains
// Podman's networks made with --opt isolate get: netavark's
// (NETAVARK_ISOLATION_N of its older iptables driver, NETAVARK-ISOLATION-N
// of the later ones), or on the CNI plugins the firewall plugin's
// CNI-ISOLATION-STAGE-N. That plugin's chains may be anyone's; the
// caller takes the rule for Podman's only when both bridges are its
// networks'.
func podmanIsolation(chain string) bool {
	for _, prefix := range []string{"NETAVARK_ISOLATION_", "NETAVARK-ISOLATION-", "CNI-ISOLATION-STAGE-"} {
		if strings.HasPrefix(chain, prefix) {
			return true
		}
	}
	return false
}

// bridges are the interfaces the deciding rule's packet came in by and
// would have left by: the rule's own -i and -o, else its hop's.
func bridges(d facts.NFDecision, p facts.ProbeFacts) (in, out string) {
	for i := 0; i+1 < len(d.Spec); i++ {
		switch d.Spec[i] {
		case "-i", "--in-interface":
			if i == 0 || d.Spec[i-1] != "!" {
				in = d.Spec[i+1]
			}
		case "-o", "--out-interface":
			if i == 0 || d.Spec[i-1] != "!" {
				out = d.Spec[i+1]
			}
		}
	}
	path := p.Path
	if d.Answer {
		path = p.Back
	}
	for _, h := range path {
		if h.Namespace == d.Namespace && h.Role == facts.RoleRouter {
			if in == "" {
				in = h.In
			}
			if out == "" {
				out = h.Out
			}
		}
	}
	return in, out
}

// network is the engine network whose bridge is br, or nil.
func (e engines) network(br string) *facts.EngineNetwork {
	if br == "" {
		return nil
	}
	for i := range e.Networks {
		if e.Networks[i].Bridge == br {
			return &e.Networks[i]
		}
	}
	return nil
}

// container is the engine's container whose namespace the facts show as
// ns, or nil.
func (e engines) container(f *facts.Facts, ns string) *facts.EngineContainer {
	c, ok := f.EngineContainers()[ns]
	if !ok {
		return nil
	}
	for i := range e.Containers {
		if x := &e.Containers[i]; x.Engine == c.Engine && (x.ID == c.ID || x.Name == c.Name) {
			return x
		}
	}
	return nil
}

// shown is how the verdict names a namespace: a container as engine:NAME.
func shown(f *facts.Facts, ns string) string {
	if c, ok := f.EngineContainers()[ns]; ok {
		return c.Engine + ":" + c.Name
	}
	return ns
}

// joinFix connects the probe's source container, else its destination,
// to network n: `docker network connect NET CONTAINER`, the engine's way
// for two containers of different networks to reach each other. None
// when neither end is a container of n's engine or n is internal and
// the container already on it.
func (e engines) joinFix(f *facts.Facts, p facts.ProbeFacts, n *facts.EngineNetwork) string {
	for _, ns := range []string{p.From, p.To} {
		c := e.container(f, ns)
		if c == nil || c.Engine != n.Engine || slices.Contains(c.Networks, n.Name) || !cmdline.ValidContainerName(c.Name) {
			continue
		}
		return cmdline.Command{n.Engine, "network", "connect", n.Name, c.Name}.String()
	}
	return ""
}

// internalWords says why a container whose networks are all internal has
// no route: the engine gave it none, and its rules would drop the rest.
func (e engines) internalWords(f *facts.Facts, p facts.ProbeFacts, v Verdict) Verdict {
	c := e.container(f, v.Namespace)
	if c == nil || len(c.Networks) == 0 || slices.ContainsFunc(c.Networks, func(name string) bool { return !e.internal(c.Engine, name) }) {
		return v
	}
	v.Detail += fmt.Sprintf("; %s:%s is only on internal network %s (%s network create --internal): %s gives it no route out and drops what would leave the network; connect it to a network that is not internal",
		c.Engine, c.Name, strings.Join(c.Networks, ", "), c.Engine, c.Engine)
	v.Fix = e.connectOut(f, p, c) // a route added by hand leads to the engine's drop
	return v
}

// leaveInternal is the fix for a packet dropped at the edge of internal
// network n: the end's container on n joins the other end's network.
func (e engines) leaveInternal(f *facts.Facts, p facts.ProbeFacts, n *facts.EngineNetwork) string {
	for _, ns := range []string{p.From, p.To} {
		if c := e.container(f, ns); c != nil && c.Engine == n.Engine && slices.Contains(c.Networks, n.Name) {
			return e.connectOut(f, p, c)
		}
	}
	return ""
}

// connectOut connects c, a container of an internal network at one end
// of p, to a network of the other end's container that is not internal:
// `docker network connect NET CONTAINER`. None when the other end is no
// container of c's engine.
func (e engines) connectOut(f *facts.Facts, p facts.ProbeFacts, c *facts.EngineContainer) string {
	for _, ns := range []string{p.To, p.From} {
		o := e.container(f, ns)
		if o == nil || o == c || o.Engine != c.Engine || !cmdline.ValidContainerName(c.Name) {
			continue
		}
		for _, name := range o.Networks {
			if !e.internal(o.Engine, name) {
				return cmdline.Command{c.Engine, "network", "connect", name, c.Name}.String()
			}
		}
	}
	return ""
}

// internal says whether engine's network name is internal.
func (e engines) internal(engine, name string) bool {
	return slices.ContainsFunc(e.Networks, func(n facts.EngineNetwork) bool { return n.Engine == engine && n.Name == name && n.Internal })
}

// publishedWords judges a probe to a port an engine publishes: the
// container behind it not listening, or not running.
func (e engines) publishedWords(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	if p.Request.Proto != "tcp" {
		return v, false
	}
	for _, c := range e.Containers {
		for _, pp := range c.Ports {
			if pp.Proto != p.Request.Proto || pp.HostPort != p.Request.DPort || pp.HostIP.IsValid() && pp.HostIP != p.Request.Dst {
				continue
			}
			said := fmt.Sprintf("%s:%s publishes %d -> %d", c.Engine, c.Name, pp.HostPort, pp.Port)
			switch {
			case c.State == "running" && v.Cause == facts.CausePortClosed && (shown(f, v.Namespace) == c.Engine+":"+c.Name || translatedTo(f, p, c, pp.Port)):
				v.Detail = fmt.Sprintf("%s; nothing listens on %d in %s; %s", said, pp.Port, c.Name, v.Detail)
				return v, true
			case c.State != "running" && e.hostsEngine(f, p.To, c.Engine):
				v.Detail = fmt.Sprintf("%s, but %s:%s is %s: %s forwards a published port only while its container runs; %s", said, c.Engine, c.Name, c.State, c.Engine, v.Detail)
				if c.State == "restarting" {
					v.Detail = strings.Replace(v.Detail, " only while its container runs;", fmt.Sprintf(" only while its container runs, and it keeps exiting (%s logs %s says why);", c.Engine, c.Name), 1)
				}
				v.Fix = stoppedFix(c)
				return v, true
			}
		}
	}
	return v, false
}

// translatedTo says whether conntrack saw p's destination rewritten to
// an address of c, on port.
func translatedTo(f *facts.Facts, p facts.ProbeFacts, c facts.EngineContainer, port uint16) bool {
	return slices.ContainsFunc(probeTranslations(f, p), func(t Translation) bool {
		return t.Kind != NATSource && t.To.Port() == port && slices.Contains(c.Addresses, t.To.Addr())
	})
}

// hostsEngine says whether namespace ns holds one of engine's bridges:
// the namespace its published ports are on.
func (e engines) hostsEngine(f *facts.Facts, ns, engine string) bool {
	st := f.State(ns)
	if st == nil {
		return false
	}
	for _, n := range e.Networks {
		if n.Engine == engine && n.Bridge != "" && st.Link(n.Bridge) != nil {
			return true
		}
	}
	return false
}

// stoppedFix starts a stopped container, unpauses a paused one; a
// restarting one keeps exiting, which no command here mends.
func stoppedFix(c facts.EngineContainer) string {
	if !cmdline.ValidContainerName(c.Name) {
		return ""
	}
	switch c.State {
	case "exited", "created":
		return cmdline.Command{c.Engine, "start", c.Name}.String()
	case "paused":
		return cmdline.Command{c.Engine, "unpause", c.Name}.String()
	}
	return ""
}
