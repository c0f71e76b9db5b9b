package containers

import (
	"context"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Network is one of an engine's networks, as a verdict names it: the
// bridge its containers hang on and the options that make Docker drop
// their traffic.
type Network struct {
	Engine   string
	Name     string
	ID       string
	Bridge   string // the bridge interface in the engine's namespace; "" for a driver with none
	Subnets  []netip.Prefix
	Internal bool // docker network create --internal
	// ICCOff: com.docker.network.bridge.enable_icc=false, Docker drops
	// traffic between the network's containers.
	ICCOff bool
	// Isolated: podman network create --opt isolate=true (or strict),
	// netavark drops traffic between it and other networks.
	Isolated bool
}

// Published is one port an engine publishes for a container: HostPort on
// HostIP (the zero Addr: every address) to the container's Port.
type Published struct {
	HostIP   netip.Addr
	HostPort uint16
	Port     uint16
	Proto    string // tcp, udp
}

// Info is a container as the engine knows it, running or not: its state,
// its networks and the ports published for it.
type Info struct {
	Engine    string
	Name      string
	ID        string
	State     string // running, exited, restarting, paused, created, dead
	Networks  []string
	Addresses []netip.Addr
	Ports     []Published
}

// Inventory asks Docker and Podman (those whose socket exists or is
// configured) for their networks and every container, stopped ones too.
// What one engine could not say is an error beside what the others said.
func Inventory(ctx context.Context) ([]Network, []Info, []error) {
	var nets []Network
	var infos []Info
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, engine := range []string{Docker, Podman} {
		e, err := endpointOf(engine)
		if err == nil && e.absent {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n []Network
			var in []Info
			if err == nil {
				n, in, err = e.inventory(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			nets, infos = append(nets, n...), append(infos, in...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	sort.Slice(nets, func(i, j int) bool { return nets[i].Engine+nets[i].Name < nets[j].Engine+nets[j].Name })
	sort.Slice(infos, func(i, j int) bool { return infos[i].Engine+infos[i].Name < infos[j].Engine+infos[j].Name })
	return nets, infos, errs
}

// networkJSON is the part of GET /networks nsdump reads.
type networkJSON struct {
	Name     string
	ID       string `json:"Id"`
	Driver   string
	Internal bool
	Options  map[string]string
	IPAM     struct{ Config []struct{ Subnet string } }
}

// The bridge driver's options, as Docker (and Podman's compatible API)
// report them.
const (
	optBridgeName = "com.docker.network.bridge.name"
	optICC        = "com.docker.network.bridge.enable_icc"
)

// listJSON is the part of GET /containers/json?all=1 nsdump reads.
type listJSON struct {
	ID    string `json:"Id"`
	Names []string
	State string
	Ports []struct {
		IP          string
		PrivatePort uint16
		PublicPort  uint16
		Type        string
	}
	NetworkSettings struct {
		Networks map[string]struct{ IPAddress, GlobalIPv6Address string }
	}
}

// libpodNetworkJSON is the part of Podman's own GET /libpod/networks/json
// nsdump reads: unlike its Docker-compatible list, it names the bridge
// and keeps the isolate option.
type libpodNetworkJSON struct {
	Name             string            `json:"name"`
	ID               string            `json:"id"`
	Driver           string            `json:"driver"`
	NetworkInterface string            `json:"network_interface"`
	Internal         bool              `json:"internal"`
	Options          map[string]string `json:"options"`
	Subnets          []struct {
		Subnet string `json:"subnet"`
	} `json:"subnets"`
}

func (e *endpoint) networks(ctx context.Context) ([]Network, error) {
	var nets []Network
	if e.engine == Podman {
		var nj []libpodNetworkJSON
		if err := e.get(ctx, "/libpod/networks/json", &nj); err != nil {
			return nil, err
		}
		for _, n := range nj {
			net := Network{Engine: e.engine, Name: n.Name, ID: n.ID, Internal: n.Internal, Isolated: n.Options["isolate"] == "true" || n.Options["isolate"] == "strict"}
			if n.Driver == "bridge" {
				net.Bridge = n.NetworkInterface
			}
			for _, sn := range n.Subnets {
				if p, err := netip.ParsePrefix(sn.Subnet); err == nil {
					net.Subnets = append(net.Subnets, p)
				}
			}
			nets = append(nets, net)
		}
		return nets, nil
	}
	var nj []networkJSON
	if err := e.get(ctx, "/networks", &nj); err != nil {
		return nil, err
	}
	for _, n := range nj {
		nets = append(nets, e.network(n))
	}
	return nets, nil
}

func (e *endpoint) inventory(ctx context.Context) ([]Network, []Info, error) {
	nets, err := e.networks(ctx)
	if err != nil {
		return nil, nil, err
	}
	var cj []listJSON
	if err := e.get(ctx, "/containers/json?all=1", &cj); err != nil {
		return nets, nil, err
	}
	var infos []Info
	for _, c := range cj {
		in := e.info(c)
		if in.State != "running" {
			// The list shows no port of a container that is not running:
			// its configuration still publishes them.
			in.Ports = e.bindings(ctx, c.ID)
		}
		infos = append(infos, in)
	}
	return nets, infos, nil
}

func (e *endpoint) network(n networkJSON) Network {
	net := Network{Engine: e.engine, Name: n.Name, ID: n.ID, Internal: n.Internal, ICCOff: n.Options[optICC] == "false"}
	switch {
	case n.Options[optBridgeName] != "":
		net.Bridge = n.Options[optBridgeName]
	case n.Driver == "bridge" && e.engine == Docker && len(n.ID) >= 12:
		net.Bridge = "br-" + n.ID[:12] // what Docker names a user network's bridge
	}
	for _, c := range n.IPAM.Config {
		if p, err := netip.ParsePrefix(c.Subnet); err == nil {
			net.Subnets = append(net.Subnets, p)
		}
	}
	return net
}

func (e *endpoint) info(c listJSON) Info {
	in := Info{Engine: e.engine, ID: c.ID, State: c.State}
	if len(c.Names) > 0 {
		in.Name = strings.TrimPrefix(c.Names[0], "/")
	}
	for name, n := range c.NetworkSettings.Networks {
		in.Networks = append(in.Networks, name)
		for _, a := range []string{n.IPAddress, n.GlobalIPv6Address} {
			if addr, err := netip.ParseAddr(a); err == nil {
				in.Addresses = append(in.Addresses, addr)
			}
		}
	}
	sort.Strings(in.Networks)
	for _, p := range c.Ports {
		if p.PublicPort == 0 {
			continue // exposed, not published
		}
		hp := Published{HostPort: p.PublicPort, Port: p.PrivatePort, Proto: p.Type}
		if a, err := netip.ParseAddr(p.IP); err == nil && !a.IsUnspecified() {
			hp.HostIP = a
		} else if err == nil && a.Is6() {
			continue // [::] beside 0.0.0.0: one publication
		}
		in.Ports = append(in.Ports, hp)
	}
	return in
}

// bindings are the ports a container's configuration publishes, from
// GET /containers/ID/json; none when it cannot be read (removed since).
func (e *endpoint) bindings(ctx context.Context, id string) []Published {
	var in struct {
		HostConfig struct {
			PortBindings map[string][]struct{ HostIP, HostPort string }
		}
	}
	if e.get(ctx, "/containers/"+id+"/json", &in) != nil {
		return nil
	}
	var out []Published
	for spec, bs := range in.HostConfig.PortBindings {
		port, proto, _ := strings.Cut(spec, "/")
		cp, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			continue
		}
		for _, b := range bs {
			hp, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil || hp == 0 {
				continue
			}
			p := Published{HostPort: uint16(hp), Port: uint16(cp), Proto: proto}
			if a, err := netip.ParseAddr(b.HostIP); err == nil && !a.IsUnspecified() {
				p.HostIP = a
			}
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].HostPort < out[j].HostPort })
	return out
}
