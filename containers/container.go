package containers

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Container is one running container and the process that holds its
// network namespace.
type Container struct {
	Engine string `json:"engine"` // docker, podman, containerd, cri-o
	Name   string `json:"name"`   // Docker/Podman name; containerd id; Kubernetes container name
	ID     string `json:"id"`
	PID    int    `json:"pid"`
	// Namespace is containerd's namespace (k8s.io, moby, default...).
	Namespace string `json:"containerd_namespace,omitempty"`
	// PodNamespace and PodName are the Kubernetes pod the container belongs
	// to, from its bundle's annotations.
	PodNamespace string `json:"pod_namespace,omitempty"`
	PodName      string `json:"pod,omitempty"`
}

// Target is how a user names the container on nsdump's command line.
func (c Container) Target() string {
	switch {
	case c.PodName != "":
		return Pod + ":" + c.PodNamespace + "/" + c.PodName
	case c.Engine == Containerd:
		return Containerd + ":" + c.Namespace + "/" + c.ID
	case c.Engine == CRIO:
		return CRIO + ":" + c.ID
	}
	return c.Engine + ":" + c.Name
}

// Display is how nsdump shows the container's namespace: Docker's and
// Podman's name as the user gave it (web/eth0), a pod as pod:NS/NAME.
func (c Container) Display() string {
	if c.Engine == Docker || c.Engine == Podman {
		return c.Name
	}
	return c.Target()
}

// ErrNoContainer marks a target no engine knows.
var ErrNoContainer = errors.New("no such container")

// AmbiguousError is a bare name that several containers have.
type AmbiguousError struct {
	Name       string
	Candidates []Container
}

func (e *AmbiguousError) Error() string {
	var c []string
	for _, x := range e.Candidates {
		c = append(c, x.Target())
	}
	sort.Strings(c)
	return fmt.Sprintf("%q names %d containers: %s; write one of them", e.Name, len(e.Candidates), strings.Join(c, ", "))
}

// EngineError is an engine that could not be asked.
type EngineError struct {
	Engine string
	Where  string // the socket or directory
	Hint   string // what to do next
	Err    error
}

func (e *EngineError) Error() string {
	msg := fmt.Sprintf("%s at %s: %v", e.Engine, e.Where, e.Err)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *EngineError) Unwrap() error { return e.Err }
