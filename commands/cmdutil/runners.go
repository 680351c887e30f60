package cmdutil

import (
	"context"

	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// Runners builds the runner of each job a command runs or follows: one
// log-source chooser for all of them, so their CloudWatch reads share one
// quota limiter.
type Runners struct {
	f       *Factory
	origin  jobs.Origin
	engine  client.APIClient
	report  jobs.Reporter
	sources *jobs.LogSources
	opts    RunnerOptions
}

// RunnerOptions shape the runners of a command's jobs.
type RunnerOptions struct {
	Stack string
	Logs  jobs.LogOptions // where output is read
	Run   jobs.RunOptions // how a run is watched and ended
	// Networks, if set, makes a job's network removed under it again (a
	// release does).
	Networks jobs.NetworkMaker
}

// NewRunners is the runner set-up of a command on engine, telling
// progress to report.
func NewRunners(f *Factory, engine client.APIClient, report jobs.Reporter, o RunnerOptions) *Runners {
	o.Run = o.Run.WithPacing(o.Logs.DrainTimeout)
	return &Runners{
		f: f, engine: engine, report: report, opts: o, origin: f.Origin(),
		sources: jobs.NewLogSources(o.Logs, jobs.EngineSource(engine, o.Stack, report), report, f.Now, f.After),
	}
}

// For is the runner of job, reading its output where its log driver puts it.
func (rs *Runners) For(ctx context.Context, job jobs.Job) (*jobs.Runner, error) {
	where, err := rs.sources.ForJob(ctx, job)
	if err != nil {
		return nil, err
	}
	r := &jobs.Runner{
		Engine: rs.engine, Containers: rs.engine, Logs: where.Source, LogPlace: where.Place, Report: rs.report,
		Records: jobs.Records{Engine: rs.engine}, Now: rs.f.Now, After: rs.f.After, Opts: rs.opts.Run, Origin: rs.origin,
		Networks: rs.opts.Networks,
	}
	if rs.f.RegistryAuth != nil && job.Spec.TaskTemplate.ContainerSpec != nil {
		image := job.Spec.TaskTemplate.ContainerSpec.Image
		auth, err := rs.f.RegistryAuth(image)
		if err != nil {
			r.Opts.RegistryAuthErr = jobs.Message(err)
			rs.report.Notice(job.Name, "WARNING: "+r.Opts.RegistryAuthErr+"; the nodes pull "+image+" anonymously")
		}
		r.Opts.RegistryAuth = auth
	}
	return r, nil
}
