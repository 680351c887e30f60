// Package cmdutil holds what every jobrun command shares: its streams, the
// way to the engine, the clock, and the flags and checks common to several
// commands.
package cmdutil

import (
	"context"
	"io"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/moby/moby/client"

	"jobrun/jobs"
	"jobrun/notify"
)

// IO is where a command reads and writes; tests pass buffers.
type IO struct {
	In io.Reader
	// InTerminal is stdin's terminal (raw mode, size, resizes); nil when
	// stdin is not one.
	InTerminal    *jobs.Terminal
	Out, Err      io.Writer
	OutIsTerminal bool
}

// Factory is what a command takes from outside: main fills it with the real
// engine, environment and clock; tests with their own.
type Factory struct {
	IO IO
	// Connect reaches the engine as the docker CLI does (--context,
	// DOCKER_HOST, DOCKER_CONTEXT, docker context use) and checks that it is
	// a swarm manager; EngineInfo names it and says its default log driver.
	Connect func(ctx context.Context, c Common) (client.APIClient, EngineInfo, error)
	// RegistryAuth is X-Registry-Auth for an image, "" for none; an error
	// when the docker config or its credential helper failed.
	RegistryAuth func(image string) (string, error)
	// DockerCLI is the command's one docker CLI (docker stack deploy's
	// code needs one), made with its --context on first use.
	DockerCLI func(dockerContext string) (*command.DockerCli, error)
	Env       map[string]string // for ${VAR} in stack files
	Now       func() time.Time
	After     func(time.Duration) <-chan time.Time
	// GitVersion is the short HEAD of the git checkout in the working directory.
	GitVersion func() (string, error)
	Hostname   string // this machine's, for who ran what
	Account    string // the user jobrun runs as, when $USER is not set
	Notifier   notify.Notifier
	Jobrun     string // jobrun's own version and commit (set by commands.NewApp)
}

// Origin is who runs the command, from where, for its records.
func (f *Factory) Origin() jobs.Origin {
	o := jobs.OriginFrom(f.Env, f.Account, f.Hostname)
	o.Jobrun = f.Jobrun
	if f.GitVersion != nil {
		o.Commit, _ = f.GitVersion()
	}
	return o
}
