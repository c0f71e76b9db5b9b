package judge

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/topology/nsstate"
	"github.com/nsdump/nsdump/trace/facts"
)

// What the kind of a link between the two ends decides (issue 19): two
// macvlans of one parent pass frames to each other only in bridge mode; a
// vxlan's frames reach the other end only with its VNI and to its address.

// endLinks are the sender's way out on p (the link its route leaves by)
// and the destination's link holding the probed address, or nils.
func endLinks(f *facts.Facts, p facts.ProbeFacts) (out, in *nsstate.LinkState) {
	from, to := f.State(p.From), f.State(p.To)
	if from == nil || to == nil || len(p.Path) == 0 || p.Path[0].Out == "" {
		return nil, nil
	}
	out = from.Link(p.Path[0].Out)
	if h := addrHolder(to, p.Request.Dst); h != "" {
		in = to.Link(h)
	}
	return out, in
}

// macvlanMode: the two ends' links are macvlans of one lower device and
// one of them is not in bridge mode: the parent passes no frame between
// them (private), or sends them out of the parent for a switch beyond to
// send back (vepa), which nothing does.
func macvlanMode(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	out, in := endLinks(f, p)
	if out == nil || in == nil || out.Kind != "macvlan" || in.Kind != "macvlan" || out.Lower == nil || in.Lower == nil ||
		out.Lower.Index != in.Lower.Index || out.Lower.Namespace != in.Lower.Namespace {
		return v, false
	}
	type end struct {
		ns string
		l  *nsstate.LinkState
	}
	ends := []end{{p.From, out}, {p.To, in}}
	if p.From > p.To {
		ends[0], ends[1] = ends[1], ends[0] // one culprit, whichever way the probe went
	}
	var wrong []string
	var fixes []cmdline.Command
	for _, e := range ends {
		if e.l.MacvlanMode != "bridge" {
			wrong = append(wrong, fmt.Sprintf("%s in %s is in %s mode", e.l.Name, e.ns, e.l.MacvlanMode))
			fixes = append(fixes, cmdline.IP(e.ns, "link", "set", e.l.Name, "type", "macvlan", "mode", "bridge"))
		}
	}
	if len(wrong) == 0 {
		return v, false
	}
	blamed := ends[0].ns
	if ends[0].l.MacvlanMode == "bridge" {
		blamed = ends[1].ns
	}
	detail := fmt.Sprintf("%s in %s and %s in %s are macvlans of one parent, %s: %s, and macvlans of one parent pass frames to each other only when both are in bridge mode (private: never; vepa: only by a switch beyond the parent that sends them back)",
		ends[0].l.Name, ends[0].ns, ends[1].l.Name, ends[1].ns, out.Lower, strings.Join(wrong, " and "))
	return kernelVerdict(p, v, facts.CauseDropped, blamed, detail, cmdline.Join(fixes...)), true
}

// vxlanMismatch: the two ends' links are vxlans and what one sends the
// other does not take: another VNI, or a remote address that is not the
// other's. VNI and addresses come from the devices themselves.
func vxlanMismatch(f *facts.Facts, p facts.ProbeFacts, v Verdict) (Verdict, bool) {
	out, in := endLinks(f, p)
	if out == nil || in == nil || out.VXLAN == nil || in.VXLAN == nil {
		return v, false
	}
	// One culprit whichever way the probe went: the ends in name order.
	a, an, b, bn := out, p.From, in, p.To
	if an > bn {
		a, an, b, bn = b, bn, a, an
	}
	for _, s := range []struct {
		l, other    *nsstate.LinkState
		ns, otherNS string
	}{{a, b, an, bn}, {b, a, bn, an}} {
		remote, st := s.l.VXLAN.Remote, f.State(s.otherNS)
		if !remote.IsValid() || remote.IsMulticast() || st == nil || st.Owns(remote) {
			continue
		}
		detail := fmt.Sprintf("%s in %s sends its VXLAN frames to remote %s, which %s does not hold", s.l.Name, s.ns, remote, s.otherNS)
		fix := ""
		if under := underlayAddr(st, s.other.VXLAN); under.IsValid() {
			detail += fmt.Sprintf(": %s's %s takes them on %s", s.otherNS, s.other.Name, under)
			fix = cmdline.IP(s.ns, "link", "set", s.l.Name, "type", "vxlan", "remote", under.String()).String()
		}
		return kernelVerdict(p, v, facts.CauseDropped, s.ns, detail, fix), true
	}
	if a.VXLAN.ID != b.VXLAN.ID || a.VXLAN.Port != b.VXLAN.Port {
		detail := fmt.Sprintf("%s in %s sends VNI %d to port %d, but %s in %s takes VNI %d on port %d: %s drops what arrives for a VNI or port it has no device for",
			a.Name, an, a.VXLAN.ID, a.VXLAN.Port, b.Name, bn, b.VXLAN.ID, b.VXLAN.Port, bn)
		return kernelVerdict(p, v, facts.CauseDropped, bn, detail, recreateVXLAN(bn, b, a.VXLAN)), true
	}
	return v, false
}

// underlayAddr is the address a vxlan device takes its frames on: its
// local address, else the first address of its underlay device.
func underlayAddr(st *nsstate.NamespaceState, x *nsstate.VXLAN) netip.Addr {
	if x.Local.IsValid() {
		return x.Local
	}
	if l := st.Link(x.Dev); l != nil && len(l.Addresses) > 0 {
		return l.Addresses[0].Addr()
	}
	return netip.Addr{}
}

// recreateVXLAN makes l in ns again with the VNI and port of want (the
// kernel changes neither on a vxlan that exists), its other settings,
// addresses and MTU as they were, and sets it up.
func recreateVXLAN(ns string, l *nsstate.LinkState, want *nsstate.VXLAN) string {
	x := l.VXLAN
	add := []string{"link", "add", l.Name, "type", "vxlan", "id", fmt.Sprint(want.ID)}
	if x.Remote.IsValid() {
		add = append(add, "remote", x.Remote.String())
	}
	if x.Local.IsValid() {
		add = append(add, "local", x.Local.String())
	}
	if x.Dev != "" {
		add = append(add, "dev", x.Dev)
	}
	add = append(add, "dstport", fmt.Sprint(want.Port))
	if x.NoLearning {
		add = append(add, "nolearning")
	}
	cmds := []cmdline.Command{cmdline.IP(ns, "link", "del", l.Name), cmdline.IP(ns, add...)}
	for _, a := range l.Addresses {
		if !a.Addr().IsLinkLocalUnicast() {
			cmds = append(cmds, cmdline.IP(ns, "addr", "add", a.String(), "dev", l.Name))
		}
	}
	if l.MTU > 0 {
		cmds = append(cmds, cmdline.IP(ns, "link", "set", l.Name, "mtu", fmt.Sprint(l.MTU)))
	}
	cmds = append(cmds, cmdline.IP(ns, "link", "set", l.Name, "up"))
	return cmdline.Join(cmds...)
}
