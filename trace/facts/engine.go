package facts

import "net/netip"

// The container engines' own account of their networks and containers
// (issue 24 item 2): read through their API during a trace, judged by
// judge/engine.go like every other fact.

// EngineFacts are the container engines' own account of their networks
// and containers, read through their API during the trace: only when a
// namespace on the path is a container's or holds an engine's bridge.
type EngineFacts struct {
	Networks   []EngineNetwork   `json:"networks"`
	Containers []EngineContainer `json:"containers"`
}

// EngineNetwork is one of an engine's networks.
type EngineNetwork struct {
	Engine   string         `json:"engine"`
	Name     string         `json:"name"`
	ID       string         `json:"id"`
	Bridge   string         `json:"bridge,omitempty"` // its bridge in the engine's namespace
	Subnets  []netip.Prefix `json:"subnets,omitempty"`
	Internal bool           `json:"internal,omitempty"` // --internal
	// ICCOff: com.docker.network.bridge.enable_icc=false.
	ICCOff bool `json:"icc_off,omitempty"`
	// Isolated: Podman's --opt isolate=true (netavark's isolation chains).
	Isolated bool `json:"isolated,omitempty"`
}

// EngineContainer is one container, running or not.
type EngineContainer struct {
	Engine    string          `json:"engine"`
	Name      string          `json:"name"`
	ID        string          `json:"id"`
	State     string          `json:"state"` // running, exited, restarting, paused, created, dead
	Networks  []string        `json:"networks,omitempty"`
	Addresses []netip.Addr    `json:"addresses,omitempty"`
	Ports     []PublishedPort `json:"ports,omitempty"`
}

// PublishedPort is a port the engine publishes for a container: HostPort
// on HostIP (zero: every address of the engine's namespace) to Port.
type PublishedPort struct {
	HostIP   netip.Addr `json:"host_ip,omitzero"`
	HostPort uint16     `json:"host_port"`
	Port     uint16     `json:"port"`
	Proto    string     `json:"proto"`
}
