package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// apiVersion is the Engine API both Docker (since 19.03) and Podman's
// compatible service answer; the calls used have not changed since.
const apiVersion = "/v1.40"

// libpodVersion prefixes Podman's own API (/libpod/...), which refuses
// the compatible API's versions; every Podman since 4.0 answers it.
const libpodVersion = "/v4.0.0"

// apiTimeout bounds one call: a hung engine must not hang nsdump.
const apiTimeout = 3 * time.Second

// maxBody bounds an answer read from an engine.
const maxBody = 64 << 20

// endpoint is an Engine API socket.
type endpoint struct {
	engine string
	url    string // as configured: unix:///run/docker.sock
	client *http.Client
	base   string // http://engine or http://host:port
	// absent is true when the default socket does not exist: the engine is
	// not installed or not running, which is no error for a bare name.
	absent bool
}

// Environment variables the engines' CLIs read.
const (
	DockerHostEnv    = "DOCKER_HOST"
	ContainerHostEnv = "CONTAINER_HOST"
)

// Default sockets of rootful engines.
const (
	DefaultDockerSocket = "/run/docker.sock"
	DefaultPodmanSocket = "/run/podman/podman.sock"
)

func dockerEndpoint() (*endpoint, error) {
	return newEndpoint(Docker, os.Getenv(DockerHostEnv), "unix://"+DefaultDockerSocket, DockerHostEnv)
}

// podmanEndpoint is CONTAINER_HOST, else the rootful socket for root and
// $XDG_RUNTIME_DIR/podman/podman.sock for others, as podman-remote does.
func podmanEndpoint() (*endpoint, error) {
	def := "unix://" + DefaultPodmanSocket
	if dir := os.Getenv("XDG_RUNTIME_DIR"); os.Geteuid() != 0 && dir != "" {
		def = "unix://" + filepath.Join(dir, "podman", "podman.sock")
	}
	return newEndpoint(Podman, os.Getenv(ContainerHostEnv), def, ContainerHostEnv)
}

func newEndpoint(engine, configured, def, env string) (*endpoint, error) {
	e := &endpoint{engine: engine, url: configured}
	if configured == "" {
		e.url = def
	}
	u, err := url.Parse(e.url)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", env, configured, err)
	}
	var dial func(ctx context.Context) (net.Conn, error)
	switch u.Scheme {
	case "unix":
		path := u.Path
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && configured == "" {
			e.absent = true
		}
		e.base = "http://" + engine
		dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	case "tcp", "http":
		e.base = "http://" + u.Host
		dial = func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", u.Host)
		}
	default:
		return nil, fmt.Errorf("%s=%q: nsdump reaches %s over unix:// or tcp:// (a process id is only meaningful on this host)", env, configured, engine)
	}
	e.client = &http.Client{
		Timeout: apiTimeout,
		Transport: &http.Transport{
			DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
			MaxIdleConnsPerHost: 16,
		},
	}
	return e, nil
}

// errNotFound is the engine's 404.
var errNotFound = errors.New("not found")

// get decodes the JSON answer of GET path.
func (e *endpoint) get(ctx context.Context, path string, v any) error {
	version := apiVersion
	if strings.HasPrefix(path, "/libpod/") {
		version = libpodVersion
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+version+path, nil)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return e.unreachable(err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxBody)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNotFound
	case resp.StatusCode != http.StatusOK:
		var m struct{ Message string }
		json.NewDecoder(body).Decode(&m)
		return &EngineError{Engine: e.engine, Where: e.url, Err: fmt.Errorf("GET %s: %s: %s", path, resp.Status, m.Message)}
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return &EngineError{Engine: e.engine, Where: e.url, Err: fmt.Errorf("GET %s: %w", path, err)}
	}
	return nil
}

func (e *endpoint) unreachable(err error) error {
	hint := fmt.Sprintf("is %s running? set %s to its socket", e.engine, map[string]string{Docker: DockerHostEnv, Podman: ContainerHostEnv}[e.engine])
	if e.engine == Podman {
		hint = "is the podman service running (podman system service)? set " + ContainerHostEnv + " to its socket"
	}
	if errors.Is(err, os.ErrPermission) {
		hint = "run as root or as a member of the engine's group"
	}
	return &EngineError{Engine: e.engine, Where: e.url, Hint: hint, Err: err}
}

// inspected is the part of GET /containers/{id}/json nsdump reads.
type inspected struct {
	ID    string `json:"Id"`
	Name  string
	State struct {
		Running bool
		Pid     int
	}
}

// inspect asks the engine for one container by name or id.
func (e *endpoint) inspect(ctx context.Context, nameOrID string) (Container, error) {
	var in inspected
	if err := e.get(ctx, "/containers/"+url.PathEscape(nameOrID)+"/json", &in); err != nil {
		return Container{}, err
	}
	c := Container{Engine: e.engine, Name: strings.TrimPrefix(in.Name, "/"), ID: in.ID, PID: in.State.Pid}
	if !in.State.Running || in.State.Pid <= 0 {
		return c, fmt.Errorf("%s:%s is not running (%s start %s)", e.engine, c.Name, e.engine, c.Name)
	}
	return c, nil
}

// list returns the engine's running containers, each inspected for its
// process (the list does not carry it), a few at a time.
func (e *endpoint) list(ctx context.Context) ([]Container, error) {
	var ps []struct {
		ID string `json:"Id"`
	}
	if err := e.get(ctx, "/containers/json", &ps); err != nil {
		return nil, err
	}
	out := make([]Container, len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = e.inspect(ctx, p.ID)
		}()
	}
	wg.Wait()
	var running []Container
	for i, c := range out {
		if errs[i] == nil { // stopped or removed since the list: not there
			running = append(running, c)
		}
	}
	return running, nil
}

// names caches, per engine socket, the names of the running containers by
// id: naming the processes behind every port of a crowded bridge takes
// one list call instead of one inspect each.
var names = struct {
	sync.Mutex
	m map[string]map[string]string
}{m: map[string]map[string]string{}}

// nameOf is the name of the running container with this full id. A miss
// lists the containers again: one started since the last list.
func (e *endpoint) nameOf(ctx context.Context, id string) (string, bool, error) {
	names.Lock()
	name, ok := names.m[e.url][id]
	names.Unlock()
	if ok {
		return name, true, nil
	}
	var ps []struct {
		ID    string `json:"Id"`
		Names []string
	}
	if err := e.get(ctx, "/containers/json", &ps); err != nil {
		return "", false, err
	}
	m := map[string]string{}
	for _, p := range ps {
		if len(p.Names) > 0 {
			m[p.ID] = strings.TrimPrefix(p.Names[0], "/")
		}
	}
	names.Lock()
	names.m[e.url] = m
	names.Unlock()
	name, ok = m[id]
	return name, ok, nil
}
