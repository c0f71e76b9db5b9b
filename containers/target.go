package containers

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid marks a container target refused before any system call.
var ErrInvalid = errors.New("invalid container name")

// Engines, as they are written in targets and shown in JSON.
const (
	Docker     = "docker"
	Podman     = "podman"
	Containerd = "containerd"
	CRIO       = "cri-o"
	Pod        = "pod" // a Kubernetes pod, found in containerd's or CRI-O's state
)

// Ref is a parsed container target: ENGINE:NAME, containerd:NS/ID or
// pod:NAMESPACE/NAME. Engine is "" for a bare NAME.
type Ref struct {
	Engine    string
	Namespace string // containerd namespace or Kubernetes namespace
	Name      string // name or id
}

func (r Ref) String() string {
	switch {
	case r.Engine == "":
		return r.Name
	case r.Namespace != "":
		return r.Engine + ":" + r.Namespace + "/" + r.Name
	}
	return r.Engine + ":" + r.Name
}

// IsTarget reports whether s is written as a container target (an engine
// prefix), valid or not.
func IsTarget(s string) bool {
	prefix, _, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	switch prefix {
	case Docker, Podman, Containerd, Pod:
		return true
	}
	return false
}

// Parse checks a container target's syntax: docker:NAME|ID,
// podman:NAME|ID, containerd:NAMESPACE/ID or pod:NAMESPACE/NAME.
func Parse(s string) (Ref, error) {
	engine, rest, _ := strings.Cut(s, ":")
	r := Ref{Engine: engine, Name: rest}
	switch engine {
	case Docker, Podman:
		if err := validName(rest); err != nil {
			return Ref{}, fmt.Errorf("%s: %w (write %s:NAME or %s:ID)", s, err, engine, engine)
		}
		return r, nil
	case Containerd, Pod:
		ns, name, ok := strings.Cut(rest, "/")
		if !ok {
			return Ref{}, fmt.Errorf("%s: %w: write %s:NAMESPACE/%s", s, ErrInvalid, engine, map[string]string{Containerd: "ID", Pod: "NAME"}[engine])
		}
		if err := validName(ns); err != nil {
			return Ref{}, fmt.Errorf("%s: namespace: %w", s, err)
		}
		if err := validName(name); err != nil {
			return Ref{}, fmt.Errorf("%s: %w", s, err)
		}
		r.Namespace, r.Name = ns, name
		return r, nil
	}
	return Ref{}, fmt.Errorf("%s: %w: the engines are docker, podman, containerd and pod", s, ErrInvalid)
}

// maxName bounds a name or id: Docker's ids are 64 hex digits, containerd's
// ids 76 characters, Kubernetes names 253.
const maxName = 253

// validName accepts what Docker, Podman, containerd and Kubernetes accept
// in names and ids ([a-zA-Z0-9][a-zA-Z0-9_.-]*): nothing a URL path, a file
// path or a shell would read differently.
func validName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty name: %w", ErrInvalid)
	case len(s) > maxName:
		return fmt.Errorf("name %.20q... is longer than %d bytes: %w", s, maxName, ErrInvalid)
	case !alnum(s[0]):
		return fmt.Errorf("name %q does not start with a letter or digit: %w", s, ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' && c != '.' && c != '-' {
			return fmt.Errorf("name %q contains %q (names are letters, digits, '_', '.', '-'): %w", s, c, ErrInvalid)
		}
	}
	return nil
}

// ValidBare reports whether a bare word could name a container.
func ValidBare(s string) bool { return validName(s) == nil }

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
