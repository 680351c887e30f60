package cmdutil

import (
	"context"

	"github.com/docker/docker/client"

	"jobrun/jobs"
)

// Runners builds the runner of each job a command runs or follows: one
// log-source chooser for all of them, so their CloudWatch reads share one
// quota limiter.
type Runners struct {
	// Networks, if set, makes a job's network removed under it again (a
	// release does).
	Networks jobs.NetworkMaker
	f        *Factory
	origin   jobs.Origin
	engine   client.APIClient
	report   jobs.Reporter
	sources  *jobs.LogSources
	opts     jobs.RunOptions
}

// NewRunners is the runner set-up of a command on engine: its logs read as
// logOpts say, progress told to report, runs shaped by opts.
func NewRunners(f *Factory, engine client.APIClient, stack string, logOpts jobs.LogOptions, report jobs.Reporter, opts jobs.RunOptions) *Runners {
	return &Runners{
		f: f, engine: engine, report: report, opts: opts.WithPacing(logOpts.DrainTimeout), origin: f.Origin(),
		sources: jobs.NewLogSources(logOpts, jobs.EngineSource(engine, stack, report), report, f.Now, f.After),
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
		Records: jobs.Records{Engine: rs.engine}, Now: rs.f.Now, After: rs.f.After, Opts: rs.opts, Origin: rs.origin,
		Networks: rs.Networks,
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
