package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/cli/cli/context/docker"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// EngineInfo is the engine Connect reached: its docker info, and how jobrun
// reached it.
type EngineInfo struct {
	system.Info
	// Context is the docker context the engine was found through; "default"
	// is DOCKER_HOST, else the platform's default socket.
	Context string
	// Host is the context's endpoint (unix://, tcp://, ssh://), its
	// password hidden.
	Host string
	// API is the engine API version the client negotiated.
	API string
}

// String names the engine as every run's first progress line does.
func (e EngineInfo) String() string {
	return fmt.Sprintf("engine %s (docker context %s): swarm manager %s, Docker %s, API %s", e.Host, e.Context, e.Name, e.ServerVersion, e.API)
}

// Connect reaches the engine the way the docker CLI does, through
// docker/cli's own context store: the context named by --context, else
// DOCKER_HOST (the "default" context, with DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH), else DOCKER_CONTEXT, else the current context of
// ~/.docker/config.json (DOCKER_CONFIG), else the default socket. It checks
// that the engine is a swarm manager.
func (d *DockerCLI) Connect(ctx context.Context, c Common) (client.APIClient, EngineInfo, error) {
	ep, reached, err := d.resolveEndpoint(c.DockerContext)
	if err != nil {
		return nil, EngineInfo{}, err
	}
	opts, err := ep.ClientOpts()
	if err != nil {
		return nil, EngineInfo{}, reached.invalid(err)
	}
	var streams *streamsApart
	if helper, _ := connhelper.GetConnectionHelper(ep.Host); helper != nil {
		streams = newStreamsApart(helper.Dialer)
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: streams}))
	}
	// The client negotiates the API version on its first request (down to
	// Engine 20.10's 1.41), unless DOCKER_API_VERSION fixes it.
	cl, err := client.New(append(opts, client.WithUserAgent("jobrun"))...)
	if err != nil {
		if v := d.Getenv(client.EnvOverrideAPIVersion); v != "" {
			// The client refuses a malformed DOCKER_API_VERSION (the old one
			// sent it to the engine): say so, not that DOCKER_HOST is wrong.
			if _, verr := client.New(client.WithAPIVersion(v)); verr != nil {
				return nil, EngineInfo{}, &jobs.UsageError{Msg: fmt.Sprintf("%s %q is not valid (%s): use MAJOR.MINOR, such as 1.41, or unset it to negotiate", client.EnvOverrideAPIVersion, v, jobs.Message(verr))}
			}
		}
		return nil, EngineInfo{}, reached.invalid(err)
	}
	var engine client.APIClient = cl
	if streams != nil {
		engine = closing{cl, streams}
	}
	cctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	res, err := engine.Info(cctx, client.InfoOptions{})
	if err != nil {
		engine.Close()
		if ctx.Err() != nil {
			return nil, EngineInfo{}, ctx.Err()
		}
		return nil, EngineInfo{}, &jobs.EngineError{Msg: fmt.Sprintf("cannot reach the Docker engine at %s within %s (%s): start it, or %s", reached.where(), c.ConnectTimeout, jobs.Message(err), reached.fix())}
	}
	if why := notAManager(res.Info.Swarm, reached.fix()); why != "" {
		engine.Close()
		return nil, EngineInfo{}, &jobs.EngineError{Msg: fmt.Sprintf("the engine at %s %s", reached.where(), why)}
	}
	reached.Info, reached.API = res.Info, cl.ClientVersion()
	return engine, reached, nil
}

// notAManager says why an engine in this swarm state cannot run jobs, and
// the fix; "" if it is a manager that can. Each state docker info reports
// has its own fix: an error state, say, is a failed join or a manager
// that cannot read its raft, not a missing docker swarm init.
func notAManager(s swarm.Info, fix string) string {
	switch s.LocalNodeState {
	case swarm.LocalNodeStateActive:
		if s.ControlAvailable {
			return ""
		}
		// A manager whose control API is not up yet looks the same.
		return fmt.Sprintf("is a swarm worker (or a manager not ready yet): %s (docker node ls there lists them; managers are marked Leader or Reachable)", fix)
	case swarm.LocalNodeStateLocked:
		return fmt.Sprintf("is a locked swarm manager (autolock): run docker swarm unlock there, or %s", fix)
	case swarm.LocalNodeStatePending:
		return fmt.Sprintf("is still joining its swarm: wait until docker info there says Swarm: active, or %s", fix)
	case swarm.LocalNodeStateError:
		why := ""
		if s.Error != "" {
			why = " (" + jobs.Message(errors.New(s.Error)) + ")"
		}
		return fmt.Sprintf("reports a swarm error%s: restart its dockerd or have it join again, or %s", why, fix)
	}
	return fmt.Sprintf("is not in swarm mode: run docker swarm init, or %s", fix)
}

// streamsApart sends the engine's long-lived streams (events, followed
// logs) over connections of their own. Through a connection helper (ssh://)
// every connection is an ssh process and a login, about 300 ms: a stream
// that took the one warm connection would have the next request wait for a
// new login; apart, requests keep theirs and a stream's login overlaps the
// run (BENCHMARKS.md, ssh).
type streamsApart struct{ requests, streams *http.Transport }

func newStreamsApart(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *streamsApart {
	return &streamsApart{requests: &http.Transport{DialContext: dial}, streams: &http.Transport{DialContext: dial}}
}

func (t *streamsApart) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/events") || req.URL.Query().Get("follow") != "" {
		return t.streams.RoundTrip(req)
	}
	return t.requests.RoundTrip(req)
}

// closing is the client whose Close also ends the idle connections (ssh
// processes) of its own transports, as the client's Close does for its
// default one.
type closing struct {
	*client.Client
	streams *streamsApart
}

func (c closing) Close() error {
	c.streams.requests.CloseIdleConnections()
	c.streams.streams.CloseIdleConnections()
	return c.Client.Close()
}

// resolveEndpoint is the endpoint the docker CLI would use given --context
// dockerContext and this environment, and the context it comes from.
func (d *DockerCLI) resolveEndpoint(dockerContext string) (docker.Endpoint, EngineInfo, error) {
	host := d.Getenv(client.EnvOverrideHost)
	reached := EngineInfo{Context: dockerContext, Host: jobs.Redact(host)}
	cli, err := d.Get(dockerContext)
	if err != nil {
		return docker.Endpoint{}, reached, err
	}
	reached.Context = cli.CurrentContext()
	if reached.Context == command.DefaultContextName && host != "" {
		if scheme, _, _ := strings.Cut(host, "://"); !map[string]bool{"unix": true, "tcp": true, "ssh": true, "npipe": true, "http": true, "https": true}[scheme] {
			return docker.Endpoint{}, reached, reached.invalid(nil)
		}
	}
	store := cli.ContextStore()
	meta, err := store.GetMetadata(reached.Context)
	if cerrdefs.IsNotFound(err) {
		return docker.Endpoint{}, reached, &jobs.UsageError{Msg: fmt.Sprintf("docker context %q (%s) does not exist: docker context ls lists them", reached.Context, d.contextSource(dockerContext))}
	}
	var ep docker.Endpoint
	if err == nil {
		var epMeta docker.EndpointMeta
		if epMeta, err = docker.EndpointFromContext(meta); err == nil {
			ep, err = docker.WithTLSData(store, reached.Context, epMeta)
		}
	}
	if err != nil {
		return docker.Endpoint{}, reached, reached.invalid(err)
	}
	reached.Host = jobs.Redact(ep.Host)
	return ep, reached, nil
}

// contextSource says where the docker CLI took a context's name from.
func (d *DockerCLI) contextSource(flag string) string {
	switch {
	case flag != "":
		return "--context"
	case d.Getenv(command.EnvOverrideContext) != "":
		return command.EnvOverrideContext
	default:
		return "the current context in " + filepath.Join(config.Dir(), config.ConfigFileName)
	}
}

// invalid is the usage error for an endpoint the client cannot use.
func (e EngineInfo) invalid(err error) error {
	detail := ""
	if err != nil {
		detail = " (" + jobs.Redact(err.Error()) + ")"
	}
	if e.Context == command.DefaultContextName {
		return &jobs.UsageError{Msg: fmt.Sprintf("DOCKER_HOST %q is not valid%s: use unix:///path, tcp://host:port or ssh://user@host", e.Host, detail)}
	}
	return &jobs.UsageError{Msg: fmt.Sprintf("docker context %q is not usable%s: docker context inspect %s shows it", e.Context, detail, e.Context)}
}

// where names the endpoint, and its context when it is not the default.
func (e EngineInfo) where() string {
	if e.Context == command.DefaultContextName {
		return e.Host
	}
	return fmt.Sprintf("%s (docker context %s)", e.Host, e.Context)
}

// fix says how to point jobrun at a swarm manager.
func (e EngineInfo) fix() string {
	if e.Context == command.DefaultContextName {
		return "point DOCKER_HOST (or --context) at a swarm manager"
	}
	return "choose a swarm manager's context with --context or docker context use, or set DOCKER_HOST"
}
