package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"

	"jobrun/logs"
)

// LogsCommand is `jobrun logs JOB`: a past run's output, attempt by
// attempt, after its service is gone; with Follow, the run in progress.
type LogsCommand struct {
	IO      IO
	Engine  LogsEngine
	Stack   string
	Job     string
	Version string // "" = the newest run
	Attempt int    // 0 = every attempt
	Follow  bool
	Logs    LogOptions
	Now     func() time.Time
	After   func(time.Duration) <-chan time.Time
}

func (c *LogsCommand) Execute(ctx context.Context) error {
	if c.Follow {
		if followed, err := c.followRunning(ctx); followed || err != nil {
			return err
		}
	}
	rec, found, err := Records{Engine: c.Engine}.Newest(ctx, c.Stack, c.Job, func(r Record) bool {
		return c.Version == "" || r.Version == c.Version
	})
	if err != nil {
		return &EngineError{Msg: "read run records", Err: err}
	}
	if !found {
		what := c.Job
		if c.Version != "" {
			what += " version " + c.Version
		}
		return &UsageError{Msg: fmt.Sprintf("%s has no recorded run in stack %s: run it first (jobrun %s), or check the name with jobrun history", what, c.Stack, c.Job)}
	}
	if c.Attempt < 0 || c.Attempt > len(rec.Attempts) {
		return &UsageError{Msg: fmt.Sprintf("--attempt %d is out of range: run %s of %s had %d attempt(s)", c.Attempt, rec.RunID, c.Job, len(rec.Attempts))}
	}
	read, err := c.reader(ctx, rec)
	if err != nil {
		return err
	}
	report := &TextReporter{Out: c.IO.Out, Err: c.IO.Err, Log: c.IO.Err}
	for _, a := range rec.Attempts {
		if c.Attempt != 0 && a.Number != c.Attempt {
			continue
		}
		report.Attempt(rec.Job, a, rec.MaxRuns)
		if err := read(a); err != nil {
			return err
		}
	}
	report.Done(rec)
	if rec.Outcome != Succeeded {
		return &VerdictError{Outcome: rec.Outcome}
	}
	return nil
}

// reader returns how to print one attempt of the recorded run.
func (c *LogsCommand) reader(ctx context.Context, rec Record) (func(Attempt) error, error) {
	if rec.LogSource != "cloudwatch" {
		outputs, err := Records{Engine: c.Engine}.Outputs(ctx, rec.RunID)
		if err != nil {
			return nil, &EngineError{Msg: "read stored output", Err: err}
		}
		return func(a Attempt) error {
			for _, o := range outputs {
				if o.Number == a.Number {
					if o.Truncated {
						fmt.Fprintf(c.IO.Err, "jobrun: %s: attempt %d: only the last %d KiB of its output was kept\n", rec.Job, a.Number, len(o.Output)>>10)
					}
					_, err := c.IO.Out.Write(o.Output)
					return err
				}
			}
			if a.Started() {
				fmt.Fprintf(c.IO.Err, "jobrun: %s: attempt %d: no output was kept\n", rec.Job, a.Number)
			}
			return nil
		}, nil
	}
	client, _, err := logs.NewCloudWatchClient(ctx, logs.AWSOptions{Region: firstOf(rec.LogRegion, c.Logs.Region), Profile: c.Logs.Profile, Endpoint: rec.LogEndpoint})
	if err != nil {
		return nil, &UsageError{Msg: err.Error()}
	}
	cw := &logs.CloudWatch{Client: client, Group: rec.LogGroup, Limiter: newCloudWatchLimiter()}
	return func(a Attempt) error {
		if a.LogStream == "" {
			return nil // never started a container: nothing was printed
		}
		_, err := cw.Read(ctx, a.LogStream, c.IO.Out)
		switch {
		case logs.IsNotFound(err):
			fmt.Fprintf(c.IO.Err, "jobrun: %s: attempt %d: its output is no longer in CloudWatch (stream %s in group %s): it was deleted, or the run is older than the log group's retention\n", rec.Job, a.Number, a.LogStream, rec.LogGroup)
			return nil
		case err != nil:
			return fmt.Errorf("attempt %d: %w", a.Number, err)
		}
		return nil
	}, nil
}

// followRunning attaches to the job's run in progress, if there is one.
func (c *LogsCommand) followRunning(ctx context.Context) (bool, error) {
	name := ServiceName(c.Stack, c.Job)
	svc, _, err := c.Engine.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, &EngineError{Msg: "inspect service " + name, Err: err}
	}
	labels := svc.Spec.Labels
	job := Job{
		Name: c.Job, Stack: c.Stack, Version: labels[LabelVersion], RunID: labels[LabelRunID],
		Spec: svc.Spec, Policy: policyFromLabels(labels, 0),
	}
	jl, err := newLogSources(c.Logs, logs.Engine{Client: c.Engine}, c.Now, c.After).forJob(ctx, job)
	if err != nil {
		return true, err
	}
	report := newTextReporter(c.IO, false)
	r := &Runner{Engine: c.Engine, Logs: jl.src, LogPlace: jl.place, Report: report, Records: Records{Engine: c.Engine},
		Now: c.Now, After: c.After, Opts: RunOptions{}.withPacing(c.Logs.DrainTimeout)}
	report.Notice(c.Job, fmt.Sprintf("following version %s (run %s) in progress", job.Version, job.RunID))
	rec := newRecord(job, jl.src, jl.place, svc.CreatedAt)
	rec.Attached = true
	_, err = r.follow(ctx, job, lease{serviceID: svc.ID}, rec)
	return true, err
}

// LogsEngine is what jobrun logs asks of the engine: a run's records, and
// to follow a run in progress.
type LogsEngine interface {
	Engine
	logs.TaskLogger
}
