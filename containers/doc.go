// Package containers finds the containers of the engines on this host
// (Docker, Podman, containerd, CRI-O) and the process each one runs, so
// that a container can be named where a network namespace is taken.
//
// Docker and Podman are asked through their Engine API on the unix socket
// their CLIs use (DOCKER_HOST, CONTAINER_HOST, else /run/docker.sock and
// /run/podman/podman.sock), with net/http: the few read-only calls this
// takes (list, inspect) do not justify an engine SDK and its dependencies.
// containerd and CRI-O are read from their runtime state on disk, the OCI
// bundles of running tasks, with no daemon call: a Kubernetes node answers
// for its pods even where nothing may talk to the API server or to the CRI
// socket.
//
// The package names containers and finds their processes; entering their
// namespaces is topology's job.
package containers
