// Package cmdtest drives jobrun's commands in tests: a Factory with
// buffers for streams, a fixed clock, and a fake engine.
package cmdtest

import (
	"bytes"
	"context"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// Engine is a swarm manager holding run records and no services. It embeds
// the client interface: a call a test did not expect panics.
type Engine struct {
	client.APIClient
	jobstest.Configs
}

func (e *Engine) ConfigCreate(ctx context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	return e.Configs.ConfigCreate(ctx, o)
}

func (e *Engine) ConfigList(ctx context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	return e.Configs.ConfigList(ctx, o)
}

func (e *Engine) ConfigRemove(ctx context.Context, id string, o client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	return e.Configs.ConfigRemove(ctx, id, o)
}

func (e *Engine) ServiceInspect(context.Context, string, client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	return client.ServiceInspectResult{}, cerrdefs.ErrNotFound.WithMessage("no such service")
}

func (e *Engine) Close() error { return nil }

// Factory connects to engine, writes to out and errb, and reads the clock
// at t.
func Factory(engine *Engine, t time.Time) (f *cmdutil.Factory, out, errb *bytes.Buffer) {
	return FactoryFor(engine, t)
}

// FactoryFor is Factory for an engine of the test's own, such as one that
// embeds an Engine and adds the calls its command makes.
func FactoryFor(engine client.APIClient, t time.Time) (f *cmdutil.Factory, out, errb *bytes.Buffer) {
	out, errb = &bytes.Buffer{}, &bytes.Buffer{}
	return &cmdutil.Factory{
		IO: cmdutil.IO{Out: out, Err: errb},
		Connect: func(context.Context, cmdutil.Common) (client.APIClient, cmdutil.EngineInfo, error) {
			return engine, cmdutil.EngineInfo{Info: system.Info{LoggingDriver: "json-file"}, Context: "default", Host: "unix:///var/run/docker.sock"}, nil
		},
		Now:       func() time.Time { return t },
		After:     func(time.Duration) <-chan time.Time { return make(chan time.Time) },
		DockerCLI: (&cmdutil.DockerCLI{}).Get,
	}, out, errb
}

// Run is a recorded run for Save: job, version and outcome, a second long,
// starting At.
type Run struct {
	Job, Version, Who string
	Outcome           jobs.Outcome
	At                time.Time
	Failures          []jobs.Failure
}

// Save records runs of stack as jobrun would have, with 7 runs at most,
// started by Who.
func (e *Engine) Save(stack string, runs ...Run) error {
	for _, r := range runs {
		rec := jobs.Record{RunID: jobs.NewRunID(r.At), Job: r.Job, Stack: stack, Version: r.Version,
			Outcome: r.Outcome, MaxRuns: 7, Started: r.At, Ended: r.At.Add(1500 * time.Millisecond), Origin: jobs.Origin{Who: r.Who}, Failures: r.Failures}
		if err := (jobs.Records{Engine: e}).Save(context.Background(), rec, nil); err != nil {
			return err
		}
	}
	return nil
}
