// Package names checks the names nsdump takes for network namespaces and
// interfaces before any system call, as the
// kernel and iproute2 take them. It imports only the standard library, so
// that the judgement of stored facts checks their names without topology.
package names

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// RunDir is where iproute2 keeps named network namespaces as bind mounts.
const RunDir = "/run/netns"

// ErrInvalidName marks a namespace or interface name refused before any
// system call.
var ErrInvalidName = errors.New("invalid name")

// maxIfaceName is IFNAMSIZ minus the terminating NUL.
const maxIfaceName = 15

// maxNamespaceName is NAME_MAX: the name becomes a file under /run/netns.
const maxNamespaceName = 255

// ValidateNamespace checks a namespace name the way iproute2 does before it
// creates /run/netns/NAME, and refuses what could never be a file name there.
func ValidateNamespace(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("namespace name is empty: %w", ErrInvalidName)
	case len(name) > maxNamespaceName:
		return fmt.Errorf("namespace name %.20q... is longer than %d bytes: %w", name, maxNamespaceName, ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("namespace name %q is not allowed: %w", name, ErrInvalidName)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("namespace name %q contains '/' or NUL: %w", name, ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("namespace name %q is not valid UTF-8: %w", name, ErrInvalidName)
	case strings.IndexFunc(name, isSpaceOrControl) >= 0:
		return fmt.Errorf("namespace name %q contains whitespace or a control character: %w", name, ErrInvalidName)
	}
	return nil
}

// ValidateInterface checks an interface name the way the kernel's
// dev_valid_name does, and also refuses what a shell user could not type back.
func ValidateInterface(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("interface name is empty: %w", ErrInvalidName)
	case len(name) > maxIfaceName:
		return fmt.Errorf("interface name %q is longer than %d bytes: %w", name, maxIfaceName, ErrInvalidName)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed: %w", name, ErrInvalidName)
	case strings.ContainsAny(name, "/:\x00"):
		return fmt.Errorf("interface name %q contains '/', ':' or NUL: %w", name, ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("interface name %q is not valid UTF-8: %w", name, ErrInvalidName)
	case strings.IndexFunc(name, isSpaceOrControl) >= 0:
		return fmt.Errorf("interface name %q contains whitespace or a control character: %w", name, ErrInvalidName)
	}
	return nil
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f || r == utf8.RuneError
}
