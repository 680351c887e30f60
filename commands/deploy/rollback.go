package deploy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/deploy"
	"jobrun/jobs"
)

// RollbackOptions are jobrun rollback's flags.
type RollbackOptions struct {
	cmdutil.Common
	To            string // a version; "": the release before the live one
	Force         bool   // even when a pre-deploy job ran since
	DeployTimeout time.Duration
	WaitLock      time.Duration
	KeepRuns      int
	Output        string
	Notify        []string
}

// NewRollbackCommand is `jobrun rollback`.
func NewRollbackCommand(f *cmdutil.Factory) *cli.Command {
	o := &RollbackOptions{}
	flags := append(cmdutil.CommonFlags(&o.Common),
		&cli.StringFlag{Name: "to", Destination: &o.To, Usage: "the version to put back (its newest released deploy); default: the release before the live one"},
		&cli.BoolFlag{Name: "force", Destination: &o.Force, Usage: "roll back even when a pre-deploy job (a migration) ran since that release"},
		&cli.DurationFlag{Name: "deploy-timeout", Value: 10 * time.Minute, EnvVars: []string{"JOBRUN_DEPLOY_TIMEOUT"}, Destination: &o.DeployTimeout, Usage: "fail when the services have not converged after this long"},
		&cli.DurationFlag{Name: "wait-lock", EnvVars: []string{"JOBRUN_WAIT_LOCK"}, Destination: &o.WaitLock, DefaultText: "refuse at once", Usage: "wait this long for another deploy of the stack to end"},
		cmdutil.KeepRunsFlag(&o.KeepRuns), cmdutil.OutputFlag(&o.Output), cmdutil.NotifyFlag(), cmdutil.AliasComposeFileFlag(),
	)
	return &cli.Command{
		Name: "rollback", Usage: "put the services back as an earlier release left them (digests and specs); jobs are not run", ArgsUsage: " ", Flags: flags,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &jobs.UsageError{Msg: fmt.Sprintf("jobrun rollback takes no arguments (got %q): name a version with --to", c.Args().First())}
			}
			o.Notify = cmdutil.NotifyURLs(c)
			return Rollback(c.Context, f, o)
		},
	}
}

func (o *RollbackOptions) check() error {
	if err := o.Common.Check(); err != nil {
		return err
	}
	if err := cmdutil.CheckOutput(o.Output); err != nil {
		return err
	}
	switch {
	case o.DeployTimeout <= 0:
		return &jobs.UsageError{Msg: fmt.Sprintf("--deploy-timeout %s must be positive: use e.g. 10m", o.DeployTimeout)}
	case o.KeepRuns < 1:
		return cmdutil.KeepRunsError(o.KeepRuns)
	}
	return cmdutil.CheckNotify(o.Notify)
}

// Rollback puts back an earlier release's services under the deploy lock,
// after naming the job runs since that release, and records it as a
// deploy whose verdict says it rolled back.
func Rollback(ctx context.Context, f *cmdutil.Factory, o *RollbackOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	engine, info, err := f.Connect(ctx, o.Common)
	if err != nil {
		return err
	}
	defer engine.Close()
	report := jobs.NewTextReporter(f.IO.Out, f.IO.Err, f.IO.OutIsTerminal, o.Output == "json")
	report.Notice("rollback", info.String())
	lock := &deploy.Lock{Engine: engine, Stack: o.Stack, Now: f.Now, After: f.After}
	if err := lock.Acquire(ctx, "rollback", o.WaitLock); err != nil {
		return err
	}
	unlock := func() {
		if lerr := lock.Release(ctx); lerr != nil {
			report.Notice("rollback", "WARNING: "+lerr.Error())
		}
	}
	target, specs, err := chooseRollback(ctx, engine, report, o)
	if err != nil {
		unlock()
		return err
	}
	stack := deploy.Stack{Engine: engine, Name: o.Stack, Out: prefixed(f, "jobrun: rollback: "), Warn: cmdutil.NewWarnings(f.IO.Err, "jobrun: rollback: WARNING: "), RegistryAuth: f.RegistryAuth}
	rec := deploy.Record{ID: jobs.NewRunID(f.Now()), Stack: o.Stack, Version: target.Version, Started: f.Now(), Origin: f.Origin(), Restores: target.ID, Jobs: []deploy.JobRun{}}
	err = restore(ctx, rollout{f: f, engine: engine, who: "rollback", timeout: o.DeployTimeout}, stack, specs, &rec)
	rec.Ended = f.Now()
	end := ending{f: f, engine: engine, report: report, notify: o.Notify, output: o.Output}
	end.keep(ctx, rec, nil, o.KeepRuns)
	unlock()
	return end.conclude(ctx, rec, nil, err)
}

// chooseRollback finds the release to put back and its specs, and says
// which jobs ran since it; it refuses, without --force, when one of them
// may have changed what that release's services expect.
func chooseRollback(ctx context.Context, engine client.APIClient, report jobs.Reporter, o *RollbackOptions) (deploy.Record, deploy.Specs, error) {
	records := deploy.Records{Engine: engine}
	recs, err := records.List(ctx, o.Stack)
	if err != nil {
		return deploy.Record{}, nil, &jobs.EngineError{Msg: "read the deploy records", Err: err}
	}
	target, err := deploy.RollbackTarget(recs, o.Stack, o.To)
	if err != nil {
		return target, nil, err
	}
	specs, ok, err := records.Specs(ctx, o.Stack, target.ID)
	if err != nil {
		return target, nil, err
	}
	if !ok {
		return target, nil, &jobs.UsageError{Msg: fmt.Sprintf("deploy %s of version %s kept no service specs (a jobrun before rollback made it, or it was pruned): deploy that version again with jobrun deploy, or roll back to a newer one with --to", target.ID, target.Version)}
	}
	runs, err := jobs.Records{Engine: engine}.Find(ctx, jobs.RecordFilter{Stack: o.Stack, Outcome: jobs.Succeeded, Kind: jobs.KindRuns}, 0)
	if err != nil {
		return target, nil, &jobs.EngineError{Msg: "read the run records", Err: err}
	}
	since, pre := deploy.RunsSince(runs, recs, target)
	report.Notice("rollback", fmt.Sprintf("version %s: putting the services back as deploy %s (ended %s) left them; jobs are not run", target.Version, target.ID, jobs.FormatTime(target.Ended)))
	if len(since) == 0 {
		report.Notice("rollback", "no job has succeeded since")
	}
	for _, r := range since {
		report.Notice("rollback", fmt.Sprintf("since then: %s %s succeeded (run %s, %s)", r.Job, r.Version, r.RunID, jobs.FormatTime(r.Started)))
	}
	if len(pre) == 0 {
		return target, specs, nil
	}
	ran := describeRuns(pre)
	if !o.Force {
		return target, nil, &jobs.RefusedError{Msg: fmt.Sprintf("rollback to version %s refused: %s ran since it was released, so the database may be newer than version %s expects: undo what it did first, or roll back anyway with --force", target.Version, ran, target.Version)}
	}
	report.Notice("rollback", fmt.Sprintf("WARNING: %s ran since version %s was released; rolling back anyway (--force)", ran, target.Version))
	return target, specs, nil
}

// describeRuns names runs as "migrate v3 (run R), ...".
func describeRuns(runs []jobs.Record) string {
	parts := make([]string, 0, len(runs))
	for _, r := range runs {
		parts = append(parts, fmt.Sprintf("%s %s (run %s)", r.Job, r.Version, r.RunID))
	}
	return strings.Join(parts, ", ")
}

// restore puts the specs back, waits for the services as ro does and
// fills the rollback's record with their results and its verdict.
func restore(ctx context.Context, ro rollout, stack deploy.Stack, specs deploy.Specs, rec *deploy.Record) error {
	since := ro.f.Now()
	targets, extra, err := stack.Restore(ctx, specs)
	if err != nil {
		rec.Verdict, rec.Reason = deploy.ServicesFailed, restoreFailure(rec.Version, specs, targets, err)
		return &jobs.ReportedError{Err: err}
	}
	for _, name := range extra {
		fmt.Fprintf(stack.Warn, "service %s was not in version %s's release: left as it is (docker service rm %s_%s removes it)\n", name, rec.Version, stack.Name, name)
	}
	rec.Services = ro.converge(ctx, targets, since)
	parts := serviceResults(rec.Services)
	bad, worst := judge(rec.Services)
	if len(bad) > 0 {
		rec.Verdict, rec.Reason = deploy.ServicesFailed, fmt.Sprintf("rolling back to version %s failed: %s", rec.Version, strings.Join(bad, "; "))
		return &jobs.ReleaseError{Msg: rec.Reason, Code: worst}
	}
	rec.Verdict, rec.Reason = deploy.RolledBackTo, fmt.Sprintf("the services are back as deploy %s left them: %s", rec.Restores, strings.Join(parts, ", "))
	return nil
}

// restoreFailure says what a restore that failed did and did not do: it
// stops at the first service it cannot put back (targets are those before
// it, in name order).
func restoreFailure(version string, specs deploy.Specs, targets []deploy.Target, err error) string {
	done := "no service was changed"
	if names := changedNames(targets); names != "" {
		done = "already put back: " + names
	}
	return fmt.Sprintf("rolling back to version %s failed: %s; %s; not put back: %s", version, jobs.Message(err), done, strings.Join(specs.Names()[len(targets):], ", "))
}

// changedNames names the targets a rollback changed.
func changedNames(targets []deploy.Target) string {
	var names []string
	for _, t := range targets {
		if t.Changed {
			names = append(names, t.Name)
		}
	}
	return strings.Join(names, ", ")
}
