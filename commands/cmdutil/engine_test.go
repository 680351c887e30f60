package cmdutil

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/moby/moby/api/types/swarm"

	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// dockerConfig makes dir the docker CLI's config directory, with the
// contexts (name → host) written by docker/cli's own store, as `docker
// context create NAME --docker host=HOST` writes them, and currentContext
// set as `docker context use` sets it.
func dockerConfig(t *testing.T, current string, contexts map[string]string) {
	t.Helper()
	dir := t.TempDir()
	config.SetDir(dir) // config.Dir() reads DOCKER_CONFIG once per process
	s := store.New(config.ContextStoreDir(), command.DefaultContextStoreConfig())
	for name, host := range contexts {
		meta := store.Metadata{Name: name, Metadata: command.DockerContext{},
			Endpoints: map[string]any{docker.DockerEndpoint: docker.EndpointMeta{Host: host}}}
		if err := s.CreateOrUpdate(meta); err != nil {
			t.Fatal(err)
		}
	}
	if current != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext": "`+current+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// The engine is the one the docker CLI picks, in the CLI's order.
func TestResolveEndpoint(t *testing.T) {
	contexts := map[string]string{"prod": "ssh://deploy@prod-manager", "staging": "tcp://staging:2375", "local": "unix:///run/local.sock"}
	tests := []struct {
		name, flag, current, host, dockerContext string
		wantContext, wantHost                    string
	}{
		{name: "nothing set: the default socket", wantContext: "default", wantHost: "unix:///var/run/docker.sock"},
		{name: "DOCKER_HOST", host: "unix:///run/x.sock", wantContext: "default", wantHost: "unix:///run/x.sock"},
		{name: "docker context use", current: "prod", wantContext: "prod", wantHost: "ssh://deploy@prod-manager"},
		{name: "DOCKER_CONTEXT over the current context", current: "prod", dockerContext: "staging", wantContext: "staging", wantHost: "tcp://staging:2375"},
		{name: "DOCKER_HOST over DOCKER_CONTEXT and the current context", current: "prod", dockerContext: "staging", host: "unix:///run/x.sock", wantContext: "default", wantHost: "unix:///run/x.sock"},
		{name: "--context over DOCKER_HOST", flag: "local", host: "unix:///run/x.sock", dockerContext: "staging", wantContext: "local", wantHost: "unix:///run/local.sock"},
		{name: "--context default is DOCKER_HOST", flag: "default", host: "unix:///run/x.sock", current: "prod", wantContext: "default", wantHost: "unix:///run/x.sock"},
		{name: "a password in DOCKER_HOST is hidden", host: "tcp://deploy:hunter2@10.0.0.1:2376", wantContext: "default", wantHost: "tcp://10.0.0.1:2376"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dockerConfig(t, tt.current, contexts)
			t.Setenv("DOCKER_HOST", tt.host)
			t.Setenv("DOCKER_CONTEXT", tt.dockerContext)
			ep, reached, err := (&DockerCLI{Getenv: os.Getenv}).resolveEndpoint(tt.flag)
			if err != nil {
				t.Fatal(err)
			}
			if reached.Context != tt.wantContext || reached.Host != tt.wantHost {
				t.Errorf("got context %q host %q, want %q %q", reached.Context, reached.Host, tt.wantContext, tt.wantHost)
			}
			if _, err := ep.ClientOpts(); err != nil {
				t.Errorf("client options: %v", err)
			}
		})
	}
}

// A context that does not exist, or a DOCKER_HOST the client cannot use,
// is a usage error that says where the name came from and what to do.
func TestResolveEndpointErrors(t *testing.T) {
	tests := []struct {
		name, flag, current, host, dockerContext string
		want                                     []string
	}{
		{name: "--context unknown", flag: "nosuch", want: []string{`docker context "nosuch" (--context) does not exist`, "docker context ls"}},
		{name: "DOCKER_CONTEXT unknown", dockerContext: "nosuch", want: []string{`"nosuch" (DOCKER_CONTEXT)`}},
		{name: "current context unknown", current: "nosuch", want: []string{`"nosuch" (the current context in `, "config.json)"}},
		{name: "DOCKER_HOST malformed", host: "nonsense://x", want: []string{`DOCKER_HOST "nonsense://x" is not valid`, "unix:///path"}},
		{name: "DOCKER_HOST password", host: "tcp://deploy:hunter2@host:port", want: []string{"DOCKER_HOST", "deploy:***@"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dockerConfig(t, tt.current, nil)
			t.Setenv("DOCKER_HOST", tt.host)
			t.Setenv("DOCKER_CONTEXT", tt.dockerContext)
			_, _, err := (&DockerCLI{Getenv: os.Getenv}).resolveEndpoint(tt.flag)
			jobstest.WantExit(t, err, jobs.ExitUsage, tt.want...)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%q shows the password", err)
			}
		})
	}
}

// Over a connection helper, the events and followed-logs streams get
// connections of their own; every other request reuses one.
func TestStreamsApart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var mu sync.Mutex
	dials := map[string]int{}
	dialer := func(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
		return func(ctx context.Context, _, _ string) (net.Conn, error) {
			mu.Lock()
			dials[name]++
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
		}
	}
	rt := &streamsApart{requests: &http.Transport{DialContext: dialer("requests")}, streams: &http.Transport{DialContext: dialer("streams")}}
	c := &http.Client{Transport: rt}
	for _, path := range []string{"/_ping", "/v1.41/info", "/v1.41/events?filters=x", "/v1.41/tasks", "/v1.41/tasks/t1/logs?follow=1&stdout=1", "/v1.41/tasks/t1/logs?stdout=1", "/v1.41/services/s"} {
		resp, err := c.Get("http://docker.example.com" + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if dials["requests"] != 1 || dials["streams"] != 1 {
		t.Errorf("dials %v, want one for the requests and one for the streams", dials)
	}
}

func TestNotAManager(t *testing.T) {
	const fix = "point DOCKER_HOST at a swarm manager"
	tests := []struct {
		name  string
		swarm swarm.Info
		want  []string // "" = a manager jobrun can use
	}{
		{"manager", swarm.Info{LocalNodeState: swarm.LocalNodeStateActive, ControlAvailable: true}, nil},
		{"worker", swarm.Info{LocalNodeState: swarm.LocalNodeStateActive}, []string{"is a swarm worker", fix}},
		{"no swarm", swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}, []string{"not in swarm mode", "docker swarm init", fix}},
		{"locked", swarm.Info{LocalNodeState: swarm.LocalNodeStateLocked}, []string{"locked swarm manager", "docker swarm unlock", fix}},
		{"joining", swarm.Info{LocalNodeState: swarm.LocalNodeStatePending}, []string{"still joining", fix}},
		{"error", swarm.Info{LocalNodeState: swarm.LocalNodeStateError, ControlAvailable: true, Error: "could not\nread raft"}, []string{"swarm error (could not read raft)", "restart its dockerd", fix}},
		{"error without a reason", swarm.Info{LocalNodeState: swarm.LocalNodeStateError}, []string{"reports a swarm error: restart its dockerd", fix}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notAManager(tt.swarm, fix)
			if tt.want == nil {
				if got != "" {
					t.Fatalf("notAManager = %q, want a manager", got)
				}
				return
			}
			if strings.ContainsRune(got, '\n') {
				t.Errorf("not one line: %q", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
		})
	}
}
