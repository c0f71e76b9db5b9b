//go:build !linux

package topology

// Targets holds a command's namespaces on Linux; elsewhere nothing is
// held, and only nsdump read runs (it holds none).
type Targets struct{}
