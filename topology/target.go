package topology

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nsdump/nsdump/cmdline"
	"github.com/nsdump/nsdump/containers"
)

// A target is how a user names a network namespace on the command line:
// a name under /run/netns, an absolute path to a namespace file
// (/proc/PID/ns/net, a bind mount such as /run/docker/netns/ID), pid:N,
// the namespace of process N, or a container: docker:NAME|ID,
// podman:NAME|ID, containerd:NS/ID, pod:NAMESPACE/NAME, or a bare NAME that
// no /run/netns entry has and exactly one container does.

// maxPath is PATH_MAX without the terminating NUL.
const maxPath = 4095

// maxPID is the kernel's PID_MAX_LIMIT.
const maxPID = 1 << 22

// ValidateTarget checks a target's syntax before any system call.
func ValidateTarget(s string) error {
	if containers.IsTarget(s) {
		_, err := containers.Parse(s)
		if err != nil {
			// Both sentinels, one message (%.0w prints nothing).
			return fmt.Errorf("namespace %w%.0w", err, ErrInvalidName)
		}
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "pid:"); ok {
		_, err := parsePID(rest)
		if err != nil {
			return fmt.Errorf("namespace %q: %w", s, err)
		}
		return nil
	}
	if strings.HasPrefix(s, "/") {
		switch {
		case len(s) > maxPath:
			return fmt.Errorf("namespace path %.20q... is longer than %d bytes: %w", s, maxPath, ErrInvalidName)
		case !utf8.ValidString(s):
			return fmt.Errorf("namespace path %q is not valid UTF-8: %w", s, ErrInvalidName)
		case strings.IndexFunc(s, isControl) >= 0:
			return fmt.Errorf("namespace path %q contains a control character: %w", s, ErrInvalidName)
		case filepath.Clean(s) != s:
			return fmt.Errorf("namespace path %q is not clean (write %s): %w", s, filepath.Clean(s), ErrInvalidName)
		}
		return nil
	}
	if err := ValidateNamespace(s); err != nil {
		if strings.Contains(s, "/") {
			return fmt.Errorf("%w (a namespace is a name under %s, an absolute path to a namespace file, pid:N, or a container: docker:NAME, podman:NAME, containerd:NS/ID, pod:NAMESPACE/NAME)", err, RunDir)
		}
		return err
	}
	return nil
}

func parsePID(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > maxPID || strconv.Itoa(n) != s {
		return 0, fmt.Errorf("%q is not a process id (pid:N, N from 1 to %d): %w", s, maxPID, ErrInvalidName)
	}
	return n, nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// IsNamed reports whether a target is a plain name under /run/netns, the
// only kind `ip -n` and `ip netns exec` take: not a container's, whose
// commands enter it by a process (cmdline.ShowAs).
func IsNamed(target string) bool { return cmdline.IsNamed(target) }

// procNetPID returns N for /proc/N/ns/net and /proc/N/task/T/ns/net.
func procNetPID(path string) (int, bool) {
	f := strings.Split(strings.TrimPrefix(path, "/proc/"), "/")
	if !strings.HasPrefix(path, "/proc/") {
		return 0, false
	}
	switch {
	case len(f) == 3 && f[1] == "ns" && f[2] == "net":
	case len(f) == 5 && f[1] == "task" && f[3] == "ns" && f[4] == "net":
		if _, err := parsePID(f[2]); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	n, err := parsePID(f[0])
	return n, err == nil
}
