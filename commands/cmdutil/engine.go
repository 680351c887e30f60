package cmdutil

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"

	"jobrun/jobs"
)

// Connect reaches the engine the way the docker CLI does (DOCKER_HOST,
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, ssh://) and checks it is a swarm
// manager.
func Connect(ctx context.Context, timeout time.Duration) (client.APIClient, system.Info, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	host := os.Getenv("DOCKER_HOST")
	invalid := func(detail string) error {
		return &jobs.UsageError{Msg: fmt.Sprintf("DOCKER_HOST %q is not valid%s: use unix:///path, tcp://host:port or ssh://user@host", Redact(host), detail)}
	}
	if scheme, _, _ := strings.Cut(host, "://"); host != "" && !map[string]bool{"unix": true, "tcp": true, "ssh": true, "npipe": true, "http": true, "https": true}[scheme] {
		return nil, system.Info{}, invalid("")
	}
	if host != "" {
		helper, err := connhelper.GetConnectionHelper(host)
		if err != nil {
			return nil, system.Info{}, invalid(fmt.Sprintf(" (%v)", err))
		}
		if helper != nil {
			opts = append(opts, client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
		}
	}
	engine, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, system.Info{}, invalid(": " + Redact(err.Error()))
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := engine.Info(cctx)
	if err != nil {
		engine.Close()
		if ctx.Err() != nil {
			return nil, system.Info{}, ctx.Err()
		}
		return nil, system.Info{}, &jobs.EngineError{Msg: fmt.Sprintf("cannot reach the Docker engine at %s within %s: start it, or point DOCKER_HOST at a swarm manager", Redact(engine.DaemonHost()), timeout)}
	}
	switch {
	case info.Swarm.LocalNodeState != "active":
		engine.Close()
		return nil, system.Info{}, &jobs.EngineError{Msg: fmt.Sprintf("the engine at %s is not in swarm mode: run docker swarm init, or point DOCKER_HOST at a swarm manager", Redact(engine.DaemonHost()))}
	case !info.Swarm.ControlAvailable:
		engine.Close()
		return nil, system.Info{}, &jobs.EngineError{Msg: fmt.Sprintf("the engine at %s is a swarm worker: point DOCKER_HOST at a manager (docker node ls there lists them; managers are marked Leader or Reachable)", Redact(engine.DaemonHost()))}
	}
	return engine, info, nil
}

var passwordInURL = regexp.MustCompile(`(://[^:/@\s]+):[^@/\s]+@`)

// Redact hides a password in a URL such as tcp://user:pass@host.
func Redact(s string) string { return passwordInURL.ReplaceAllString(s, "$1:***@") }

// RegistryAuth is what `docker stack deploy --with-registry-auth` sends:
// the credentials for the image's registry from ~/.docker/config.json and
// its credential helpers. Without any, the engine pulls anonymously.
func RegistryAuth(image string) string {
	cfg := config.LoadDefaultConfigFile(io.Discard)
	auth, err := command.RetrieveAuthTokenFromImage(cfg, image)
	if err != nil {
		return ""
	}
	return auth
}
