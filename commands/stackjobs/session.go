package stackjobs

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
)

// Session is a command's engine, reached for one stack: the stack file as
// loaded, the engine, the jobs' spec options, and where progress is told.
type Session struct {
	*Options
	Engine client.APIClient
	Stack  *jobs.Stack
	Spec   jobs.SpecOptions
	Report jobs.Reporter
}

// Open reaches the engine for stack and says, as who, how jobs run on it:
// the run's first line.
func (o *Options) Open(ctx context.Context, stack *jobs.Stack, spec jobs.SpecOptions, who string) (*Session, error) {
	engine, info, err := o.Connect(ctx, o.Common)
	if err != nil {
		return nil, err
	}
	o.Logs.DefaultDriver = info.LoggingDriver
	report := jobs.NewTextReporter(o.IO.Out, o.IO.Err, o.IO.OutIsTerminal, o.Output == "json")
	report.Notice(who, info.String())
	spec.Legacy = o.Legacy || versions.LessThan(engine.ClientVersion(), jobs.ReplicatedJobsAPI)
	if spec.Legacy {
		report.Notice(who, fmt.Sprintf("engine API %s has no replicated jobs (1.41+): running each job as a replicas:1 service with the same restart policy", engine.ClientVersion()))
	}
	return &Session{Options: o, Engine: engine, Stack: stack, Spec: spec, Report: report}, nil
}

// Close lets go of the engine.
func (s *Session) Close() { s.Engine.Close() }

// Runners is the runner set-up of the session's jobs.
func (s *Session) Runners() *cmdutil.Runners {
	return cmdutil.NewRunners(s.Factory, s.Engine, s.Report, cmdutil.RunnerOptions{Stack: s.Stack.Name, Logs: s.Logs, Run: s.Run, Networks: s.Networks})
}

// Jobs builds the named jobs and runs them: in order, stopping at the first
// that does not succeed, or all at once with Parallel; ended (if set) is
// told of each job's record and error as soon as its run ends. It returns
// the records of the runs that started or were found, and the first error.
func (s *Session) Jobs(ctx context.Context, names []string, ended func(jobs.Record, error)) ([]jobs.Record, error) {
	todo, err := s.prepare(ctx, names)
	if err != nil {
		return nil, err
	}
	run := func(i int) (jobs.Record, error) {
		rec, err := todo[i].run(ctx, s.Report)
		if ended != nil {
			ended(rec, err)
		}
		return rec, err
	}
	records, errs := runAll(len(todo), run, s.Parallel)
	var done []jobs.Record
	var first error
	for i, rec := range records {
		if rec.Job != "" { // a job left unrun after an earlier one failed has none
			done = append(done, rec)
		}
		if first == nil {
			first = errs[i]
		}
	}
	return done, first
}

// prepared is one job ready to run, or the record of the run in which its
// version succeeded already, which makes this run a skip.
type prepared struct {
	runner *jobs.Runner
	job    jobs.Job
	prev   *jobs.Record
}

// run runs the job, or says it is skipped: when the others run, so that
// the lines come in the jobs' order.
func (p prepared) run(ctx context.Context, report jobs.Reporter) (jobs.Record, error) {
	if p.prev != nil {
		return jobs.Skip(report, *p.prev), nil
	}
	return p.runner.Run(ctx, p.job)
}

// prepare builds each job and the runner that runs it. A version that
// succeeded already is not built: building creates the job's secrets and
// configs.
func (s *Session) prepare(ctx context.Context, names []string) ([]prepared, error) {
	set := s.Runners()
	todo := make([]prepared, 0, len(names))
	for _, name := range names {
		if !s.Run.Force {
			prev, ok, err := jobs.PriorSuccess(ctx, jobs.Records{Engine: s.Engine}, s.Stack.Name, name, s.Spec.Version)
			if err != nil {
				return nil, err
			}
			if ok {
				todo = append(todo, prepared{prev: &prev})
				continue
			}
		}
		job, err := s.Build(ctx, name)
		if err != nil {
			return nil, err
		}
		r, err := set.For(ctx, job)
		if err != nil {
			return nil, err
		}
		s.Notes(job)
		if s.Built != nil {
			s.Built(ctx, s, job)
		}
		todo = append(todo, prepared{runner: r, job: job})
	}
	return todo, nil
}

// Build converts the stack file's job as a run of it converts it, with a
// run ID of its own. In a release, which made the stack's networks a
// moment ago, a network gone since was removed under it (docker stack rm
// under way): it is made again, and the job built again.
func (s *Session) Build(ctx context.Context, name string) (jobs.Job, error) {
	spec := s.Spec
	spec.RunID = jobs.NewRunID(s.Now())
	job, err := jobs.Build(ctx, s.Engine, s.Stack, name, spec)
	var missing *jobs.NetworkMissingError
	if !errors.As(err, &missing) || s.Networks == nil {
		return job, err
	}
	if err := s.Networks(ctx, missing.Network); err != nil {
		return jobs.Job{}, err
	}
	return jobs.Build(ctx, s.Engine, s.Stack, name, spec)
}

// Notes says where the job departs from the stack file, and why.
func (s *Session) Notes(job jobs.Job) {
	for _, note := range job.Notes {
		s.Report.Notice(job.Name, note)
	}
}

// runAll runs the n jobs: in order, stopping at the first that does not
// succeed, or all at once.
func runAll(n int, run func(i int) (jobs.Record, error), parallel bool) ([]jobs.Record, []error) {
	records := make([]jobs.Record, n)
	errs := make([]error, n)
	if parallel {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); records[i], errs[i] = run(i) }()
		}
		wg.Wait()
		return records, errs
	}
	for i := range n {
		if records[i], errs[i] = run(i); errs[i] != nil {
			break
		}
	}
	return records, errs
}
