package topology

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/nsdump/nsdump/topology/nsstate"
)

// bridgeLab: br0 with kernel STP and a long forward delay (ports stay
// listening), p1 up, p2 isolated without learning and a static FDB entry,
// p3 down; br1 without STP, up, with f1 forwarding; br2 down with d1.
func bridgeLab(t *testing.T) Held {
	ns := ksNamespace(t)
	ipn := func(args ...string) { run(t, "ip", append([]string{"-n", ns.Name}, args...)...) }
	ipn("link", "add", "br0", "type", "bridge", "stp_state", "1", "forward_delay", "3000")
	ipn("link", "add", "br1", "type", "bridge", "stp_state", "0")
	ipn("link", "add", "br2", "type", "bridge")
	for _, p := range [][2]string{{"p1", "br0"}, {"p2", "br0"}, {"p3", "br0"}, {"f1", "br1"}, {"d1", "br2"}} {
		ipn("link", "add", p[0], "type", "veth", "peer", "name", p[0]+"x")
		ipn("link", "set", p[0], "master", p[1])
		ipn("link", "set", p[0]+"x", "up")
	}
	for _, l := range []string{"br0", "br1", "p1", "p2", "f1", "d1"} {
		ipn("link", "set", l, "up")
	}
	run(t, "bridge", "-n", ns.Name, "link", "set", "dev", "p2", "isolated", "on", "learning", "off")
	run(t, "bridge", "-n", ns.Name, "fdb", "add", "02:00:00:00:00:aa", "dev", "p2", "master", "static")
	pollUntil(t, "f1 forwarding", func() bool {
		return strings.Contains(run(t, "bridge", "-n", ns.Name, "link", "show", "dev", "f1"), "state forwarding")
	})
	return ns
}

// bridgeLinkJSON is what `bridge -j -d link show` says of a port.
type bridgeLinkJSON struct {
	Ifname, Master, State     string
	Flags                     []string
	Learning, Flood, Isolated bool
}

func TestBridges(t *testing.T) {
	ns := bridgeLab(t)
	bridges, err := Bridges(ns)
	if err != nil {
		t.Fatal(err)
	}
	var ports []bridgeLinkJSON
	if err := json.Unmarshal([]byte(run(t, "bridge", "-n", ns.Name, "-j", "-d", "link", "show")), &ports); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, want := range ports {
		br := findBridge(bridges, want.Master)
		if br == nil || br.Port(want.Ifname) == nil {
			t.Errorf("port %s of %s missing from %+v", want.Ifname, want.Master, bridges)
			continue
		}
		seen++
		p := br.Port(want.Ifname)
		if p.State.String() != want.State || p.Learning != want.Learning || p.Flood != want.Flood ||
			p.Isolated != want.Isolated || p.Up != slices.Contains(want.Flags, "UP") {
			t.Errorf("port %+v; bridge says %+v", *p, want)
		}
	}
	if seen != 5 {
		t.Errorf("%d ports compared; want 5", seen)
	}
	// p3 is down; d1 is up on a bridge that is down.
	want := map[string]nsstate.PortState{"p1": nsstate.PortListening, "p2": nsstate.PortListening, "p3": nsstate.PortDisabled, "f1": nsstate.PortForwarding, "d1": nsstate.PortDisabled}
	for _, br := range bridges {
		for _, p := range br.Ports {
			if p.State != want[p.Name] {
				t.Errorf("%s: %s; want %s", p.Name, p.State, want[p.Name])
			}
		}
		checkBridgeDevice(t, ns, br)
	}
	if p := findBridge(bridges, "br0").Port("p2"); !p.Isolated || p.Learning || p.Forwards() {
		t.Errorf("p2 %+v; want isolated, not learning, not forwarding", *p)
	}
}

func findBridge(bs []nsstate.Bridge, name string) *nsstate.Bridge {
	for i := range bs {
		if bs[i].Name == name {
			return &bs[i]
		}
	}
	return nil
}

// checkBridgeDevice compares a bridge's own state with `ip -d link`.
func checkBridgeDevice(t *testing.T, ns Held, br nsstate.Bridge) {
	t.Helper()
	var links []struct {
		Flags    []string
		Linkinfo struct {
			InfoData struct {
				STPState uint32 `json:"stp_state"`
			} `json:"info_data"`
		}
	}
	if err := json.Unmarshal([]byte(run(t, "ip", "-n", ns.Name, "-j", "-d", "link", "show", "dev", br.Name)), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j -d link show %s: %v", br.Name, err)
	}
	l := links[0]
	if br.Up != slices.Contains(l.Flags, "UP") || br.STP != l.Linkinfo.InfoData.STPState {
		t.Errorf("bridge %s up %v stp %d; ip says %v stp %d", br.Name, br.Up, br.STP, l.Flags, l.Linkinfo.InfoData.STPState)
	}
	if br.Name == "br2" && br.Up {
		t.Error("br2 was never set up")
	}
}

func TestFDB(t *testing.T) {
	ns := bridgeLab(t)
	mac, _ := net.ParseMAC("02:00:00:00:00:aa")
	got, err := FDB(ns, mac)
	if err != nil {
		t.Fatal(err)
	}
	want := []nsstate.BridgeFDBEntry{{MAC: "02:00:00:00:00:aa", Port: "p2", Bridge: "br0", State: "static"}}
	if !slices.Equal(got, want) {
		t.Errorf("FDB(%s) = %+v; want %+v", mac, got, want)
	}
	// Ports keep joining multicast groups (IPv6 link-local, DAD) while the
	// test reads: compare a dump with bridge's when two dumps around it agree.
	var all []nsstate.BridgeFDBEntry
	var ref []struct{ Mac, Ifname, Master, State string }
	pollUntil(t, "a quiet forwarding database", func() bool {
		before, err := FDB(ns)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(run(t, "bridge", "-n", ns.Name, "-j", "fdb", "show")), &ref); err != nil {
			t.Fatal(err)
		}
		if all, err = FDB(ns); err != nil {
			t.Fatal(err)
		}
		return slices.Equal(before, all) && len(all) == len(ref) && len(missing(all, ref)) == 0
	})
	// pollUntil fails the test when the dumps never agree; a group joined
	// and another left between the reads gave equal counts with one entry
	// each side, so agreement includes the entries.
	for _, e := range missing(all, ref) {
		t.Errorf("bridge fdb shows %+v; FDB has no such entry", e)
	}
}

// missing lists the entries of bridge's dump that FDB's lacks.
func missing(all []nsstate.BridgeFDBEntry, ref []struct{ Mac, Ifname, Master, State string }) []nsstate.BridgeFDBEntry {
	var out []nsstate.BridgeFDBEntry
	for _, r := range ref {
		e := nsstate.BridgeFDBEntry{MAC: r.Mac, Port: r.Ifname, Bridge: r.Master, State: r.State}
		if !slices.Contains(all, e) {
			out = append(out, e)
		}
	}
	return out
}
