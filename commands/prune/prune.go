// Package prune is `jobrun prune [JOB]`: bound the run records of a stack's
// jobs at once, as every run does for its own job, and without JOB its
// deploy records, as every deploy does.
package prune

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/deploy"
	"jobrun/jobs"
)

// Options are jobrun prune's flags and argument.
type Options struct {
	cmdutil.Common
	Job      string // "" = every job of the stack
	KeepRuns int
}

// NewCommand is `jobrun prune`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := &Options{}
	return &cli.Command{
		Name: "prune", Usage: "remove old run records, keeping each job's newest runs", ArgsUsage: "[JOB]",
		Flags: append(cmdutil.CommonFlags(&o.Common), cmdutil.KeepRunsFlag(&o.KeepRuns), cmdutil.AliasComposeFileFlag()),
		Action: func(c *cli.Context) error {
			o.Job = c.Args().First()
			return Run(c.Context, f, o)
		},
	}
}

// Run prunes and says what it removed.
func Run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	if err := o.Common.Check(); err != nil {
		return err
	}
	if o.KeepRuns < 1 {
		return cmdutil.KeepRunsError(o.KeepRuns)
	}
	engine, _, err := f.Connect(ctx, o.Common)
	if err != nil {
		return err
	}
	defer engine.Close()
	res, err := jobs.Records{Engine: engine}.Prune(ctx, o.Stack, o.Job, o.KeepRuns)
	what := "every job"
	if o.Job != "" {
		what = "job " + o.Job
	}
	fmt.Fprintf(f.IO.Err, "jobrun: prune: %s of stack %s: %d runs, %d kept; removed %d records, %d outputs and %d specs (%d already gone, %d refused)\n",
		what, o.Stack, res.Runs, res.Kept, res.RemovedRecords, res.RemovedOutputs, res.RemovedSpecs, res.Gone, res.Failed)
	if err != nil {
		return &jobs.EngineError{Msg: "prune run records", Err: err}
	}
	if o.Job != "" {
		return nil
	}
	removed, err := deploy.Records{Engine: engine}.Prune(ctx, o.Stack, o.KeepRuns)
	fmt.Fprintf(f.IO.Err, "jobrun: prune: deploys of stack %s: kept the newest %d and the newest released one; removed %d\n", o.Stack, o.KeepRuns, removed)
	if err != nil {
		return &jobs.EngineError{Msg: "prune deploy records", Err: err}
	}
	return nil
}
