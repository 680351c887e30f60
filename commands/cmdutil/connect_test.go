package cmdutil

import (
	"context"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConnectNegotiatesTheAPIVersion: the client lowers its API version to
// the engine's (Engine 20.10 speaks 1.41) and asks everything after the
// ping at that version; DOCKER_API_VERSION fixes it, as for docker.
func TestConnectNegotiatesTheAPIVersion(t *testing.T) {
	tests := []struct{ name, env, want string }{
		{name: "negotiated down to Engine 20.10's", want: "1.41"},
		{name: "DOCKER_API_VERSION", env: "1.40", want: "1.40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.Path)
				mu.Unlock()
				w.Header().Set("Api-Version", "1.41")
				if strings.HasSuffix(r.URL.Path, "/info") {
					_, _ = w.Write([]byte(`{"Name": "manager1", "ServerVersion": "20.10.24", "Swarm": {"LocalNodeState": "active", "ControlAvailable": true}}`))
				}
			}))
			defer srv.Close()
			dockerConfig(t, "", nil)
			t.Setenv("DOCKER_HOST", "tcp://"+srv.Listener.Addr().String())
			t.Setenv("DOCKER_CONTEXT", "")
			t.Setenv("DOCKER_API_VERSION", tt.env)
			engine, info, err := (&DockerCLI{Getenv: os.Getenv}).Connect(context.Background(), Common{ConnectTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer engine.Close()
			mu.Lock()
			defer mu.Unlock()
			if info.API != tt.want || info.Name != "manager1" || len(paths) == 0 || paths[len(paths)-1] != "/v"+tt.want+"/info" {
				t.Errorf("API %q, engine %q, requests %q: want API %s and /v%s/info", info.API, info.Name, paths, tt.want, tt.want)
			}
		})
	}
}

// A DOCKER_API_VERSION the client refuses is said to be the mistake, not
// DOCKER_HOST.
func TestConnectMalformedAPIVersion(t *testing.T) {
	dockerConfig(t, "", nil)
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
	t.Setenv("DOCKER_CONTEXT", "")
	t.Setenv("DOCKER_API_VERSION", "latest")
	_, _, err := (&DockerCLI{Getenv: os.Getenv}).Connect(context.Background(), Common{ConnectTimeout: time.Second})
	jobstest.WantExit(t, err, jobs.ExitUsage, `DOCKER_API_VERSION "latest" is not valid`, "1.41")
}
