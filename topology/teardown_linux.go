package topology

import (
	"fmt"
	"strings"

	"github.com/nsdump/nsdump/cmdline"
)

// Teardown removes the lab's namespaces, and with them its veth pair. A
// namespace holding interfaces other than lo and the lab's veth is refused,
// before anything is removed, unless force is set. Namespaces already gone
// are skipped; the empty file of an interrupted creation is removed. It returns what it did, in iproute2 terms.
func Teardown(l Lab, force bool) ([]string, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	unlock, err := lockLabs()
	if err != nil {
		return nil, err
	}
	defer unlock()
	done, err := repair(l.NS0, l.NS1)
	if err != nil {
		return done, err
	}
	var present []string
	for _, side := range [][2]string{{l.NS0, l.Veth0}, {l.NS1, l.Veth1}} {
		ns, veth := side[0], side[1]
		if !NamespaceExists(ns) {
			continue
		}
		if !force {
			if err := checkOnlyLab(ns, veth); err != nil {
				return done, err
			}
		}
		present = append(present, ns)
	}
	for _, ns := range present {
		if err := DeleteNamespace(ns); err != nil {
			return done, err
		}
		removeRecord(ns)
		done = append(done, cmdline.Command{"ip", "netns", "del", ns}.String())
	}
	return done, nil
}

func checkOnlyLab(ns, veth string) error {
	h, err := (*Targets)(nil).openHandle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	links, err := h.nl.LinkList()
	if err != nil {
		return fmt.Errorf("list interfaces in %q: %w", ns, err)
	}
	var foreign []string
	for _, l := range links {
		if n := l.Attrs().Name; n != "lo" && n != veth {
			foreign = append(foreign, n)
		}
	}
	if len(foreign) > 0 {
		return fmt.Errorf("namespace %q holds interfaces the lab did not create (%s); use --force to remove it anyway: %w",
			ns, strings.Join(foreign, ", "), ErrConflict)
	}
	return nil
}
