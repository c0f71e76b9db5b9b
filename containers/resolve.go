package containers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Resolve finds the running container a target names. A bare name (Engine
// "") must name exactly one container across the engines: none is
// ErrNoContainer, several an *AmbiguousError.
func Resolve(ctx context.Context, r Ref) (Container, error) {
	switch r.Engine {
	case Docker, Podman:
		e, err := endpointOf(r.Engine)
		if err != nil {
			return Container{}, err
		}
		c, err := e.inspect(ctx, r.Name)
		if errors.Is(err, errNotFound) {
			return Container{}, fmt.Errorf("%s: %w (%s ps lists the running ones)", r, ErrNoContainer, r.Engine)
		}
		return c, err
	case Containerd, Pod:
		all, err := onDisk()
		if len(all) == 0 && err != nil {
			return Container{}, fmt.Errorf("%s: %w", r, err)
		}
		for _, c := range all {
			if r.Engine == Containerd && c.Engine == Containerd && c.Namespace == r.Namespace && c.ID == r.Name ||
				r.Engine == Pod && c.PodNamespace == r.Namespace && c.PodName == r.Name {
				return c, nil
			}
		}
		return Container{}, fmt.Errorf("%s: %w among the running tasks under %s and %s", r, ErrNoContainer,
			stateDir(ContainerdStateEnv, DefaultContainerdState), stateDir(CRIOStateEnv, DefaultCRIOState))
	case "":
		return resolveBare(ctx, r.Name)
	}
	return Container{}, fmt.Errorf("%s: %w", r, ErrInvalid)
}

func endpointOf(engine string) (*endpoint, error) {
	if engine == Podman {
		return podmanEndpoint()
	}
	return dockerEndpoint()
}

// askEngines asks Docker and Podman, each on a goroutine of its own, while
// it reads containerd's and CRI-O's tasks on disk, and returns those once
// both engines have answered. An engine whose default socket does not exist
// is not asked; got takes each answer (or the error of reaching the
// engine), one at a time.
func askEngines[T any](ask func(*endpoint) (T, error), got func(T, error)) ([]Container, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, engine := range []string{Docker, Podman} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := endpointOf(engine)
			if err == nil && e.absent {
				return
			}
			var v T
			if err == nil {
				v, err = ask(e)
			}
			mu.Lock()
			defer mu.Unlock()
			got(v, err)
		}()
	}
	disk, err := onDisk()
	wg.Wait()
	return disk, err
}

// resolveBare asks every engine for name: Docker's and Podman's names and
// ids, containerd's ids, Kubernetes pod names.
func resolveBare(ctx context.Context, name string) (Container, error) {
	var found []Container
	var errs []error
	disk, err := askEngines(func(e *endpoint) (Container, error) { return e.inspect(ctx, name) },
		func(c Container, err error) {
			switch {
			case errors.Is(err, errNotFound):
			case err != nil:
				errs = append(errs, err)
			case c.Name == name || c.ID == name:
				found = append(found, c)
			}
		})
	if err != nil {
		errs = append(errs, err)
	}
	pods := map[string]bool{}
	for _, c := range disk {
		switch {
		case c.PodName == name && !pods[c.Target()]:
			pods[c.Target()] = true
			found = append(found, c)
		case c.PodName == "" && c.ID == name:
			found = append(found, c)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		return Container{}, &AmbiguousError{Name: name, Candidates: found}
	case len(errs) > 0:
		return Container{}, fmt.Errorf("%q: %w (and %w)", name, ErrNoContainer, errors.Join(errs...))
	}
	return Container{}, fmt.Errorf("%q: %w", name, ErrNoContainer)
}

// List returns every running container of every engine on this host,
// sorted by engine and name, and what could not be asked (an engine whose
// default socket or directory does not exist is not there, no error).
func List(ctx context.Context) ([]Container, []error) {
	var all []Container
	var errs []error
	disk, err := askEngines(func(e *endpoint) ([]Container, error) { return e.list(ctx) },
		func(cs []Container, err error) {
			all = append(all, cs...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	all = append(all, disk...)
	if err != nil {
		errs = append(errs, err)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Engine != all[j].Engine {
			return all[i].Engine < all[j].Engine
		}
		return all[i].Target()+all[i].Name < all[j].Target()+all[j].Name
	})
	return all, errs
}
