// Package history is `jobrun history [JOB]`: the recorded runs of a stack.
package history

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/deploy"
	"jobrun/jobs"
)

// Options are jobrun history's flags and argument.
type Options struct {
	cmdutil.Common
	Job    string // "" = every job
	Output string
	Last   int // the newest runs shown; 0 = all
}

// NewCommand is `jobrun history`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := &Options{}
	return &cli.Command{
		Name: "history", Usage: "list recorded runs", ArgsUsage: "[JOB]",
		Flags: append(cmdutil.CommonFlags(&o.Common), cmdutil.OutputFlag(&o.Output), cmdutil.AliasComposeFileFlag(),
			&cli.IntFlag{Name: "last", Value: 20, Destination: &o.Last, Usage: "show the newest `N` runs (0: all)"}),
		Action: func(c *cli.Context) error {
			o.Job = c.Args().First()
			return Run(c.Context, f, o)
		},
	}
}

// Run lists the runs, oldest first, as a table or as JSON.
func Run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	if err := o.Common.Check(); err != nil {
		return err
	}
	if err := cmdutil.CheckOutput(o.Output); err != nil {
		return err
	}
	if o.Last < 0 {
		return &jobs.UsageError{Msg: fmt.Sprintf("--last %d: give the number of runs to show, or 0 for all", o.Last)}
	}
	engine, _, err := f.Connect(ctx, o.Common)
	if err != nil {
		return err
	}
	defer engine.Close()
	recs, err := jobs.Records{Engine: engine}.Find(ctx, jobs.RecordFilter{Stack: o.Stack, Job: o.Job}, o.Last)
	if err != nil {
		return &jobs.EngineError{Msg: "read run records", Err: err}
	}
	var deploys []deploy.Record
	if o.Job == "" {
		if deploys, err = (deploy.Records{Engine: engine}).List(ctx, o.Stack); err != nil {
			return &jobs.EngineError{Msg: "read deploy records", Err: err}
		}
	}
	if o.Output == "json" {
		return jobs.WriteJSON(f.IO.Out, struct {
			Runs    []jobs.Record   `json:"runs"`
			Deploys []deploy.Record `json:"deploys,omitempty"`
		}{recs, deploys})
	}
	defer printDeploys(f, deploys)
	if len(recs) == 0 {
		if o.Job != "" {
			fmt.Fprintf(f.IO.Err, "jobrun: job %s has no recorded runs in stack %s\n", o.Job, o.Stack)
		} else {
			fmt.Fprintf(f.IO.Err, "jobrun: stack %s has no recorded runs\n", o.Stack)
		}
		return nil
	}
	const row = "%-24s  %-14s  %-12s  %-11s  %-8s  %-20s  %-9s  %-24s  %s\n"
	fmt.Fprintf(f.IO.Out, row, "RUN", "JOB", "VERSION", "OUTCOME", "ATTEMPTS", "STARTED", "DURATION", "WHO", "FAILURES")
	for _, r := range recs {
		failures := ""
		if r.Outcome != jobs.Succeeded {
			failures = jobs.FailureSummary(r.Failures)
		}
		fmt.Fprintf(f.IO.Out, row, r.RunID, r.Job, r.Version, outcome(r),
			fmt.Sprintf("%d/%d", jobs.RanAttempts(r.Attempts), r.MaxRuns), jobs.FormatTime(r.Started), r.Ended.Sub(r.Started).Round(10*time.Millisecond), r.Origin.Who, failures)
	}
	return nil
}

// printDeploys lists the stack's releases after its runs.
func printDeploys(f *cmdutil.Factory, deploys []deploy.Record) {
	if len(deploys) == 0 {
		return
	}
	fmt.Fprintf(f.IO.Out, "\n%-24s  %-12s  %-15s  %-20s  %-9s  %-24s  %s\n", "DEPLOY", "VERSION", "VERDICT", "STARTED", "DURATION", "WHO", "REASON")
	for _, d := range deploys {
		fmt.Fprintf(f.IO.Out, "%-24s  %-12s  %-15s  %-20s  %-9s  %-24s  %s\n", d.ID, d.Version, d.Verdict, jobs.FormatTime(d.Started),
			d.Ended.Sub(d.Started).Round(100*time.Millisecond), d.Origin.Who, d.Reason)
	}
}

// outcome is a run's outcome, or how an exec's command ended ("exec 3").
func outcome(r jobs.Record) string {
	if r.Exec == nil {
		return string(r.Outcome)
	}
	if code, ok := r.ExitCode(); ok {
		return fmt.Sprintf("exec %d", code)
	}
	return "exec " + string(r.Outcome)
}
