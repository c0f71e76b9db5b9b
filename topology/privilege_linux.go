package topology

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrPrivilege says the process lacks the capabilities namespace work needs.
var ErrPrivilege = errors.New("run as root or grant CAP_NET_ADMIN and CAP_SYS_ADMIN")

const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// CheckPrivileges refuses early, in one line, when the effective capability
// set lacks CAP_NET_ADMIN (links, addresses, routes) or CAP_SYS_ADMIN
// (setns, mounts under /run/netns).
func CheckPrivileges() error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil // let the system calls speak for themselves
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "CapEff:")
		if !ok {
			continue
		}
		caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return nil
		}
		if caps&(1<<capNetAdmin) == 0 || caps&(1<<capSysAdmin) == 0 {
			return fmt.Errorf("missing privileges: %w", ErrPrivilege)
		}
		return nil
	}
	return nil
}
