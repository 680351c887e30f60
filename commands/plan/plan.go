// Package plan is `jobrun plan JOB [--version V]`: the job's x-jobrun plan
// (Django's migrate --plan) run once in the version's context, as jobrun
// deploy --dry-run runs it for every job: what the job would do, asked
// read-only before a release.
package plan

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/commands/stackjobs"
	"jobrun/jobs"
)

// Options are jobrun plan's flags and argument, and what it runs with.
// The stack, version and log flags are a run's, and checked as a run's.
type Options struct {
	stackjobs.Options
	Job         string
	PlanTimeout time.Duration
}

// NewCommand is `jobrun plan`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := &Options{Options: stackjobs.Options{Factory: f}}
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "compose-file", Aliases: []string{"c"}, Value: cli.NewStringSlice("stack.yml"), EnvVars: []string{"JOBRUN_COMPOSE_FILE"}, Usage: "stack file(s), merged in order as docker stack deploy -c does"},
		&cli.StringFlag{Name: "version", EnvVars: []string{"JOBRUN_VERSION", "APP_VERSION"}, Destination: &o.Version, Usage: "the version whose image and context to plan in: sets APP_VERSION for the stack file (default: git rev-parse --short HEAD)"},
		cmdutil.PlanTimeoutFlag(&o.PlanTimeout),
		&cli.DurationFlag{Name: "pending-timeout", Value: 2 * time.Minute, EnvVars: []string{"JOBRUN_PENDING_TIMEOUT"}, Destination: &o.PendingTimeout, Usage: "fail when no node takes the plan's task for this long"},
		&cli.StringFlag{Name: "resolve-image", Value: "always", EnvVars: []string{"JOBRUN_RESOLVE_IMAGE"}, Destination: &o.ResolveImage, Usage: "pin the image to its registry digest, as a run does: always, changed or never"},
		cmdutil.EngineWaitFlag(&o.Run.Reconnect),
		cmdutil.OutputFlag(&o.Output),
	}
	flags = append(flags, cmdutil.CommonFlags(&o.Common)...)
	return &cli.Command{
		Name: "plan", Usage: "run a job's x-jobrun plan (e.g. migrate --plan) once in the version's context: what the job would do",
		ArgsUsage: "JOB", Flags: append(flags, cmdutil.LogFlags(&o.Logs)...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return &jobs.UsageError{Msg: "name one job: jobrun plan JOB [--version V], e.g. jobrun plan migrate --version 5e1f0aa"}
			}
			// A plan is one attempt under --plan-timeout; what a run's
			// checks ask of these, Session.Plan sets for the exec.
			o.Files, o.Job, o.MaxAttempts, o.Run.Timeout, o.Run.KeepRuns = c.StringSlice("compose-file"), c.Args().First(), 0, o.PlanTimeout, jobs.DefaultKeep
			return Run(c.Context, o)
		},
	}
}

// Run runs the job's plan and shows it: its line and output as the dry
// run shows them, or -o json's {"plan": …}. A plan that did not run to
// success exits 14 (jobs.ExitPlanWarning); a job without one is a usage
// error.
func Run(ctx context.Context, o *Options) error {
	if err := cmdutil.CheckPlanTimeout(o.PlanTimeout); err != nil {
		return err
	}
	defer cmdutil.RouteLogrus(cmdutil.NewWarnings(o.IO.Err, "jobrun: plan: WARNING: "))()
	spec, stack, err := o.Load()
	if err != nil {
		return err
	}
	if err := stackjobs.CheckJobs(stack, []string{o.Job}); err != nil {
		return err
	}
	if ext, err := stack.Extension(o.Job); err != nil {
		return err
	} else if ext.Plan == nil {
		return &jobs.UsageError{Msg: fmt.Sprintf("job %s has %s: add one to it in the stack file, e.g. %s: {plan: [python3, manage.py, migrate, --plan]}", o.Job, stackjobs.NoPlan, jobs.ExtensionKey)}
	}
	s, err := o.Open(ctx, stack, spec, o.Job)
	if err != nil {
		return err
	}
	defer s.Close()
	p, err := s.Plan(ctx, o.Job, o.PlanTimeout)
	if err != nil {
		return err
	}
	if err := write(o, p); err != nil {
		return err
	}
	if p.Warning != "" {
		return &jobs.PlanWarningError{Jobs: []string{o.Job}}
	}
	return nil
}

// write shows the plan on stdout; a WARNING is said on stderr too, where
// jobrun's own lines go.
func write(o *Options, p *stackjobs.Plan) error {
	if p.Warning != "" {
		fmt.Fprintf(o.IO.Err, "jobrun: %s: %s\n", o.Job, p.Line())
	}
	if o.Output == "json" {
		return jobs.WriteJSON(o.IO.Out, struct {
			Plan *stackjobs.Plan `json:"plan"`
		}{p})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "job %s, version %s:\n", o.Job, o.Version)
	p.Write(&b, "    ")
	if _, err := o.IO.Out.Write([]byte(b.String())); err != nil {
		return &jobs.OutputError{Err: err}
	}
	return nil
}
