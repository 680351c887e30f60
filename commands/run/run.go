// Package run is `jobrun run JOB...` (also jobrun's default command): run
// the stack file's jobs to a verdict, in order or at once.
package run

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/commands/stackjobs"
	"jobrun/jobs"
)

// Options are jobrun run's flags and arguments, and what it runs with.
type Options struct {
	stackjobs.Options
	Jobs []string
}

// NewOptions are the options of a run with f's dependencies.
func NewOptions(f *cmdutil.Factory) *Options {
	return &Options{Options: stackjobs.Options{Factory: f}}
}

// Flags are jobrun run's flags, bound to o.
func Flags(o *Options) []cli.Flag { return stackjobs.Flags(&o.Options) }

// NewCommand is `jobrun run`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := NewOptions(f)
	return &cli.Command{
		Name: "run", Usage: "run jobs (the default command)", ArgsUsage: "JOB [JOB...]", Flags: Flags(o),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return &jobs.UsageError{Msg: "name a job to run, e.g. jobrun run migrate"}
			}
			return Run(c.Context, o.From(c))
		},
	}
}

// From completes the options with what the flag destinations do not hold:
// the jobs are the arguments.
func (o *Options) From(c *cli.Context) *Options {
	o.Options.From(c)
	o.Jobs = c.Args().Slice()
	return o
}

// Run runs the jobs in order, stopping at the first that does not succeed,
// or all at once with Parallel. Its error carries the exit code.
func Run(ctx context.Context, o *Options) error {
	defer cmdutil.RouteLogrus(cmdutil.NewWarnings(o.IO.Err, "jobrun: WARNING: "))()
	spec, stack, err := o.Load()
	if err != nil {
		return err
	}
	if err := stackjobs.CheckJobs(stack, o.Jobs); err != nil {
		return err
	}
	o.Built = warnIfStackDeploysIt
	s, err := o.Open(ctx, stack, spec, o.Jobs[0])
	if err != nil {
		return err
	}
	defer s.Close()
	announce, origin := cmdutil.NewAnnouncements(ctx, o.Factory, s.Report, o.Notify), o.Origin()
	records, err := s.Jobs(ctx, o.Jobs, func(rec jobs.Record, err error) {
		announce.Send(cmdutil.RunEvent(rec, err, origin))
	})
	if o.Output == "json" {
		// The run's own outcome wins: a pipeline that could not read the
		// document still learns how the job ended.
		if werr := jobs.WriteRuns(o.IO.Out, records); werr != nil && err == nil {
			err = werr
		}
	}
	announce.Wait()
	return err
}

// warnIfStackDeploysIt warns when `docker stack deploy` also runs the job as
// an ordinary service: it then runs on every deploy, beside jobrun's run.
// jobrun deploy says so once itself, with its own fix (--prune).
func warnIfStackDeploysIt(ctx context.Context, s *stackjobs.Session, job jobs.Job) {
	name := job.Stack + "_" + job.Name
	res, err := s.Engine.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	if err != nil || res.Service.Spec.Labels[jobs.LabelStackNamespace] != job.Stack {
		return
	}
	s.Report.Notice(job.Name, fmt.Sprintf("WARNING: stack %s also deploys %s as service %s, so it runs on every docker stack deploy as well: release with jobrun deploy, which runs it as a job only", job.Stack, job.Name, name))
}
