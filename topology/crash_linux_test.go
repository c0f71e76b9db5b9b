package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

var lbSeq atomic.Int32

// lbLab is a lab with this file's own names (nsdlb-...) and a state
// directory of its own, so that no other test's records are touched.
func lbLab(t *testing.T) Lab {
	t.Helper()
	requireRoot(t)
	t.Setenv("NSDUMP_STATE_DIR", t.TempDir())
	return uniqueLab(t, &lbSeq, "nsdlb-", "lb", "198.18")
}

// deadPID is the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// orphan rewrites name's record as if the process that made it had been
// killed: same identity unless id is given.
func orphan(t *testing.T, name string, transient bool, id *Identity) {
	t.Helper()
	r := record{Namespace: name, Owner: Owner{PID: deadPID(t)}, Transient: transient}
	if id != nil {
		r.Identity = *id
	} else if old, ok := readRecord(name); ok {
		r.Identity = old.Identity
	} else {
		t.Fatalf("no record of %s to orphan", name)
	}
	if err := writeRecord(r); err != nil {
		t.Fatal(err)
	}
}

func mustIdentity(t *testing.T, name string) Identity {
	t.Helper()
	id, err := NamespaceIdentity(name)
	if err != nil {
		t.Fatalf("identity of %s: %v", name, err)
	}
	if id.Cookie == 0 || id.Inode == 0 {
		t.Fatalf("identity of %s: %+v", name, id)
	}
	return id
}

func TestInterfaceAddressesThatCannotWork(t *testing.T) {
	tests := []struct {
		addr string
		why  string // "" when accepted
	}{
		{"10.0.1.0/24", ""}, // the walkthrough's network address
		{"10.0.2.0/24", ""},
		{"10.0.1.1/31", ""},
		{"10.0.1.0/31", ""},
		{"10.0.1.255/32", ""},
		{"192.168.0.255/23", ""},
		{"169.254.3.4/16", ""},
		{"255.255.255.255/32", "limited broadcast"},
		{"255.255.255.255/8", "limited broadcast"},
		{"10.0.1.255/24", "broadcast address of 10.0.1.0/24"},
		{"192.168.1.255/23", "broadcast address of 192.168.0.0/23"},
		{"10.0.1.3/30", "broadcast address of 10.0.1.0/30"},
		{"224.0.0.5/24", "multicast"},
		{"239.1.2.3/8", "multicast"},
		{"0.0.0.0/24", "unspecified"},
		{"127.0.0.2/8", "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			_, err := ParseInterfacePrefix(tt.addr)
			if tt.why == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), tt.addr) {
				t.Fatalf("error %v, want one naming %s as %q", err, tt.addr, tt.why)
			}
			// The address suggested instead is one that works.
			_, instead, _ := strings.Cut(err.Error(), "such as ")
			if p, err := ParseInterfacePrefix(instead); err != nil || p.Addr().Is4() && p.Addr().As4()[0] >= 240 {
				t.Errorf("suggests %q instead: %v (or reserved 240.0.0.0/4)", instead, err)
			}
			// Setup refuses it before any system call: no root needed, nothing made.
			l := DefaultLab()
			l.NS0, l.NS1 = "nsdlb-never-a", "nsdlb-never-b"
			l.Addr0 = netip.MustParsePrefix(tt.addr)
			if _, err := Setup(l, false); err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Setup with %s: %v", tt.addr, err)
			}
			if _, err := os.Lstat(NamespacePath(l.NS0)); err == nil {
				t.Fatalf("a refused setup created %s", NamespacePath(l.NS0))
			}
		})
	}
}

// TestSetupRefusesTheSubnetOnAnotherInterface: the lab's subnet already on
// another interface of the namespace is a conflict named in the error, both
// before the lab exists and once it does, and nothing is changed.
func TestSetupRefusesTheSubnetOnAnotherInterface(t *testing.T) {
	l := lbLab(t)
	if err := CreateNamespace(l.NS0); err != nil {
		t.Fatal(err)
	}
	ip(t, "-n", l.NS0, "link", "add", "lbother0", "type", "veth", "peer", "name", "lbother1")
	other := netip.PrefixFrom(l.Addr0.Addr().Next().Next(), 25).String() // inside Addr0's /24
	ip(t, "-n", l.NS0, "addr", "add", other, "dev", "lbother0")
	_, err := Setup(l, false)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "lbother0") {
		t.Fatalf("setup with %s on lbother0: %v, want a conflict naming both", other, err)
	}
	if NamespaceExists(l.NS1) {
		t.Fatalf("a refused setup created %s", l.NS1)
	}
	ip(t, "-n", l.NS0, "addr", "del", other, "dev", "lbother0")
	if _, err := Setup(l, true); err != nil {
		t.Fatalf("setup once the subnet is free: %v", err)
	}
	// Once the lab exists: the same subnet on the peer namespace's other interface.
	ip(t, "-n", l.NS1, "link", "add", "lbother2", "type", "veth", "peer", "name", "lbother3")
	other1 := netip.PrefixFrom(l.Addr1.Addr().Next(), 24).String()
	ip(t, "-n", l.NS1, "addr", "add", other1, "dev", "lbother2")
	before := addrState(t, l.NS1)
	if _, err := Setup(l, true); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), other1) {
		t.Fatalf("setup over an existing lab with %s on lbother2: %v", other1, err)
	}
	if after := addrState(t, l.NS1); !slices.Equal(before, after) {
		t.Fatalf("a refused setup changed addresses: %q -> %q", before, after)
	}
}

// TestHalfMadeNamespace: the empty file a kill between creating the mount
// point and mounting leaves (here made by hand, as `ip netns add` killed at
// that instant would) is not a namespace to OpenNamespace, is repaired by
// setup and removed by teardown; with nsdump's record of a dead process it
// is a leftover that --leftovers removes.
func TestHalfMadeNamespace(t *testing.T) {
	l := lbLab(t)
	halfMake := func(name string) {
		t.Helper()
		if err := prepareRunDir(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(NamespacePath(name), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	halfMake(l.NS0)
	if names, _ := ListNamespaces(); !slices.Contains(names, l.NS0) {
		t.Fatalf("ListNamespaces does not show %s as ip netns list would: %q", l.NS0, names)
	}
	if _, err := OpenNamespace(l.NS0); !errors.Is(err, ErrNotNamespace) || !errors.Is(err, ErrNoNamespace) {
		t.Fatalf("OpenNamespace of an empty file: %v", err)
	}
	done, err := Setup(l, false)
	if err != nil || len(done) == 0 || done[0] != halfMadeDone(l.NS0) {
		t.Fatalf("setup over the empty file: %q %v", done, err)
	}
	if !NamespaceExists(l.NS0) || !NamespaceExists(l.NS1) {
		t.Fatal("setup did not build the lab")
	}
	if _, err := Teardown(l, false); err != nil {
		t.Fatal(err)
	}
	halfMake(l.NS1)
	done, err = Teardown(l, false)
	if err != nil || !slices.Equal(done, []string{halfMadeDone(l.NS1)}) {
		t.Fatalf("teardown of the empty file: %q %v", done, err)
	}
	if _, err := os.Lstat(NamespacePath(l.NS1)); !os.IsNotExist(err) {
		t.Fatalf("teardown left %s: %v", NamespacePath(l.NS1), err)
	}
	if left := Leftovers(); len(left) != 0 {
		t.Fatalf("an empty file nsdump did not make is a leftover: %+v", left)
	}

	// nsdump's own, killed: the record claims it.
	halfMake(l.NS0)
	orphan(t, l.NS0, false, &Identity{Inode: 1, Cookie: 1})
	if left := Leftovers(); len(left) != 1 || left[0].Namespace != l.NS0 || !left[0].HalfMade {
		t.Fatalf("leftovers: %+v", left)
	}
	done, err = RemoveLeftovers()
	if err != nil || !slices.Equal(done, []string{halfMadeDone(l.NS0)}) {
		t.Fatalf("RemoveLeftovers: %q %v", done, err)
	}
	if _, err := os.Lstat(NamespacePath(l.NS0)); !os.IsNotExist(err) || len(readRecords()) != 0 {
		t.Fatalf("after RemoveLeftovers: %v, records %+v", err, readRecords())
	}
}

// TestLeftoversNeverRemoveAReusedInode is the case of the issue: a demo's
// lab is recorded, then deleted behind nsdump's back and a namespace made
// under the same name, possibly on the same inode. The record is forced to
// the new namespace's inode with the old cookie: --leftovers must leave it.
// The control, the true identity, is removed.
func TestLeftoversNeverRemoveAReusedInode(t *testing.T) {
	l := lbLab(t)
	if _, err := SetupTransient(l, false); err != nil {
		t.Fatal(err)
	}
	old := mustIdentity(t, l.NS0)
	if r, ok := readRecord(l.NS0); !ok || r.Identity != old || !r.Transient || r.PID != os.Getpid() {
		t.Fatalf("record of the transient %s: %+v %v, want identity %+v", l.NS0, r, ok, old)
	}
	if left := Leftovers(); len(left) != 0 {
		t.Fatalf("a running process's lab is a leftover: %+v", left)
	}
	orphan(t, l.NS0, true, nil)
	orphan(t, l.NS1, true, nil)

	ip(t, "netns", "del", l.NS0)
	ip(t, "netns", "add", l.NS0)
	fresh := mustIdentity(t, l.NS0)
	if fresh.Cookie == old.Cookie {
		t.Fatalf("the kernel gave the new namespace the old cookie %d", old.Cookie)
	}
	t.Logf("old %+v, new %+v (inode reused: %v)", old, fresh, old.Inode == fresh.Inode)
	orphan(t, l.NS0, true, &Identity{Inode: fresh.Inode, Cookie: old.Cookie})

	left := Leftovers()
	if len(left) != 1 || left[0].Namespace != l.NS1 {
		t.Fatalf("leftovers: %+v, want only %s", left, l.NS1)
	}
	done, err := RemoveLeftovers()
	if err != nil || !slices.Equal(done, []string{"ip netns del " + l.NS1}) {
		t.Fatalf("RemoveLeftovers: %q %v, want only %s removed", done, err, l.NS1)
	}
	if got := mustIdentity(t, l.NS0); got != fresh {
		t.Fatalf("%s is now %+v, was %+v", l.NS0, got, fresh)
	}
	if NamespaceExists(l.NS1) {
		t.Fatalf("%s, the true leftover, is still there", l.NS1)
	}
	if rs := readRecords(); len(rs) != 0 {
		t.Fatalf("records left: %+v", rs)
	}
	// Nor does the inode alone decide, whatever the cookie says.
	orphan(t, l.NS0, true, &Identity{Inode: fresh.Inode + 1, Cookie: fresh.Cookie})
	if done, err := RemoveLeftovers(); err != nil || len(done) != 0 || !NamespaceExists(l.NS0) {
		t.Fatalf("RemoveLeftovers with the cookie but another inode: %q %v", done, err)
	}
}

// TestHandOver: a transient namespace handed over is no longer recorded, so
// neither a warning nor --leftovers ever names it.
func TestHandOver(t *testing.T) {
	l := lbLab(t)
	if _, err := SetupTransient(l, false); err != nil {
		t.Fatal(err)
	}
	if len(readRecords()) != 2 {
		t.Fatalf("records: %+v", readRecords())
	}
	if err := HandOver(l.NS0, l.NS1); err != nil {
		t.Fatal(err)
	}
	if rs := readRecords(); len(rs) != 0 {
		t.Fatalf("records after the handover: %+v", rs)
	}
	if done, err := RemoveLeftovers(); err != nil || len(done) != 0 || !NamespaceExists(l.NS0) || !NamespaceExists(l.NS1) {
		t.Fatalf("RemoveLeftovers after the handover: %q %v", done, err)
	}
	if _, err := SetupTransient(l, false); !errors.Is(err, ErrExists) {
		t.Fatalf("a transient setup over an existing lab: %v, want ErrExists", err)
	}
}

// TestCreateLeavesNoRecord: an ordinary namespace keeps no record once
// mounted, and its identity is the kernel's (ip netns identify agrees).
func TestCreateLeavesNoRecord(t *testing.T) {
	l := lbLab(t)
	if err := CreateNamespace(l.NS0); err != nil {
		t.Fatal(err)
	}
	if rs := readRecords(); len(rs) != 0 {
		t.Fatalf("records: %+v", rs)
	}
	id := mustIdentity(t, l.NS0)
	out, err := exec.Command("ip", "netns", "exec", l.NS0, "stat", "-L", "-c", "%i", "/proc/self/ns/net").Output()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(id.Inode) {
		t.Fatalf("inode inside %s: %q %v, want %d", l.NS0, out, err, id.Inode)
	}
	if err := CreateNamespace(l.NS0); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateNamespace: %v", err)
	}
	if got := mustIdentity(t, l.NS0); got != id {
		t.Fatalf("a refused create changed %s: %+v -> %+v", l.NS0, id, got)
	}
}
