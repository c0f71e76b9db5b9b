package labtest

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/nsdump/nsdump/topology"
)

// Unnamed is a namespace with no name under /run/netns, as a container's:
// made by `unshare --net` and held only by a sleeping process.
type Unnamed struct {
	PID  int
	Proc *exec.Cmd
}

// Spec is the pid:N target of the namespace.
func (u *Unnamed) Spec() string { return "pid:" + strconv.Itoa(u.PID) }

// Path is its /proc/N/ns/net file.
func (u *Unnamed) Path() string { return fmt.Sprintf("/proc/%d/ns/net", u.PID) }

// Kill ends the holder process (by its PID) and reaps it; the namespace
// goes with it once nothing else holds it.
func (u *Unnamed) Kill() {
	if u.Proc.ProcessState == nil {
		u.Proc.Process.Kill()
		u.Proc.Wait()
	}
}

// NewUnnamed starts `unshare --net sleep` and waits until the process is in
// its own network namespace. The process is killed when the test ends.
func NewUnnamed(t testing.TB) *Unnamed {
	t.Helper()
	RequireRoot(t)
	cmd := exec.Command("unshare", "--net", "sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatalf("unshare --net: %v", err)
	}
	u := &Unnamed{PID: cmd.Process.Pid, Proc: cmd}
	t.Cleanup(u.Kill)
	own, _ := os.Readlink("/proc/self/ns/net")
	// unshare execs sleep after unsharing: wait for the new namespace (the
	// deadline only bounds a failure).
	for deadline := time.Now().Add(30 * time.Second); ; {
		ns, err := os.Readlink(u.Path())
		if err == nil && ns != own {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d never left the host's network namespace", u.PID)
		}
		time.Sleep(time.Millisecond)
	}
	return u
}

// Joined is a named namespace joined by a veth pair to an unnamed one.
type Joined struct {
	Named            string
	Unnamed          *Unnamed
	VethNamed, VethU string
	AddrNamed, AddrU netip.Prefix
}

// NewJoined makes a named namespace nsd<prefix>-n..., an unnamed one and
// a veth pair between them with one IPv4 /24 on each end, all up. Both
// namespaces are gone when the test ends.
func NewJoined(t testing.TB, prefix string) *Joined {
	t.Helper()
	l := Names(t, prefix)
	u := NewUnnamed(t)
	j := &Joined{Named: l.NS0, Unnamed: u, VethNamed: l.Veth0, VethU: l.Veth1,
		AddrNamed: l.Addr0, AddrU: netip.PrefixFrom(l.Addr0.Addr().Next(), l.Addr0.Bits())}
	if err := topology.CreateNamespace(j.Named); err != nil {
		t.Fatalf("create %s: %v", j.Named, err)
	}
	pid := strconv.Itoa(u.PID)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v: %s", args, err, out)
		}
	}
	run("ip", "-n", j.Named, "link", "add", j.VethNamed, "type", "veth", "peer", "name", j.VethU, "netns", pid)
	run("ip", "-n", j.Named, "addr", "add", j.AddrNamed.String(), "dev", j.VethNamed)
	run("ip", "-n", j.Named, "link", "set", j.VethNamed, "up")
	run("nsenter", "-t", pid, "-n", "ip", "addr", "add", j.AddrU.String(), "dev", j.VethU)
	run("nsenter", "-t", pid, "-n", "ip", "link", "set", j.VethU, "up")
	run("nsenter", "-t", pid, "-n", "ip", "link", "set", "lo", "up")
	return j
}
