package topology

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// TestGatherLinkKinds: a macvlan's mode and lower device (in another
// namespace) and a vxlan's VNI, addresses, port, underlay and learning are
// read as `ip -d -j link` shows them.
func TestGatherLinkKinds(t *testing.T) {
	requireRoot(t)
	a, m := fmt.Sprintf("nsdn3k-lka%d", os.Getpid()), fmt.Sprintf("nsdn3k-lkm%d", os.Getpid())
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", a).Run()
		exec.Command("ip", "netns", "del", m).Run()
	})
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	run("ip", "netns", "add", a)
	run("ip", "netns", "add", m)
	run("ip", "-n", m, "link", "add", "pm", "type", "veth", "peer", "name", "pn")
	run("ip", "-n", m, "link", "add", "mva", "link", "pm", "type", "macvlan", "mode", "private")
	run("ip", "-n", m, "link", "set", "mva", "netns", a)
	run("ip", "-n", a, "link", "add", "u0", "type", "veth", "peer", "name", "u1")
	run("ip", "-n", a, "link", "add", "vx0", "type", "vxlan", "id", "4242", "remote", "10.95.7.2", "local", "10.95.7.1", "dev", "u0", "dstport", "4790", "nolearning")
	out, err := exec.Command("ip", "-n", a, "-d", "-j", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	var links []struct {
		Name string `json:"ifname"`
		Info struct {
			Data struct {
				Mode     string `json:"mode"`
				ID       uint32 `json:"id"`
				Remote   string `json:"remote"`
				Local    string `json:"local"`
				Port     int    `json:"port"`
				Link     string `json:"link"`
				Learning *bool  `json:"learning"`
			} `json:"info_data"`
		} `json:"linkinfo"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatal(err)
	}
	st, err := GatherState(a)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, l := range links {
		ls, d := st.Link(l.Name), l.Info.Data
		if l.Name == "mva" || l.Name == "vx0" {
			found++
		}
		switch l.Name {
		case "mva":
			if ls == nil || ls.MacvlanMode != d.Mode || ls.Lower == nil || ls.Lower.Namespace != m || ls.Lower.Interface != "pm" {
				t.Errorf("mva: %+v (lower %v), want mode %q on %s/pm", ls, ls.Lower, d.Mode, m)
			}
		case "vx0":
			x := ls.VXLAN
			if x == nil || x.ID != d.ID || x.Remote.String() != d.Remote || x.Local.String() != d.Local || x.Port != d.Port || x.Dev != d.Link || d.Learning == nil || x.NoLearning != !*d.Learning {
				t.Errorf("vx0: %+v, ip says %+v", x, d)
			}
		}
	}
	if found != 2 {
		t.Fatalf("ip shows %d of mva and vx0", found)
	}
}
