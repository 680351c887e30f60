// Package deploy is `jobrun deploy`: the whole release in one command — the
// stack file's jobs where they belong in its own order, the rest deployed
// as docker stack deploy deploys it, and a verdict for the services too.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/commands/stackjobs"
	"jobrun/deploy"
	"jobrun/deploy/stackdeploy"
	"jobrun/jobs"
	"jobrun/notify"
)

// Options are jobrun deploy's flags (a run's, and what a release needs)
// and what it runs with.
type Options struct {
	stackjobs.Options
	PreJobs       []string // --job: pre-deploy jobs named on the command line
	PostJobs      []string // --post-deploy-job
	Prune         bool
	DeployTimeout time.Duration
	WaitLock      time.Duration
	DryRun        bool // show what the release would do, change nothing
	// PlanTimeout stops a job's plan that a dry run runs (x-jobrun plan).
	PlanTimeout time.Duration
}

// NewCommand is `jobrun deploy`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := &Options{Options: stackjobs.Options{Factory: f}}
	flags := append(stackjobs.Flags(&o.Options),
		&cli.StringSliceFlag{Name: "job", EnvVars: []string{"JOBRUN_JOBS"}, Usage: "a service of the stack file that is a pre-deploy job (besides those marked x-jobrun)"},
		&cli.StringSliceFlag{Name: "post-deploy-job", EnvVars: []string{"JOBRUN_POST_DEPLOY_JOBS"}, Usage: "a service of the stack file that runs once the services converged"},
		&cli.BoolFlag{Name: "prune", EnvVars: []string{"JOBRUN_PRUNE"}, Destination: &o.Prune, Usage: "remove the stack's services the stack file no longer has, as docker stack deploy --prune"},
		&cli.DurationFlag{Name: "deploy-timeout", Value: 10 * time.Minute, EnvVars: []string{"JOBRUN_DEPLOY_TIMEOUT"}, Destination: &o.DeployTimeout, Usage: "fail when the services have not converged after this long"},
		&cli.BoolFlag{Name: "dry-run", EnvVars: []string{"JOBRUN_DRY_RUN"}, Destination: &o.DryRun, Usage: "show what the release would do (jobs, services and their changes, each job's x-jobrun plan) and change nothing"},
		cmdutil.PlanTimeoutFlag(&o.PlanTimeout),
		&cli.DurationFlag{Name: "wait-lock", EnvVars: []string{"JOBRUN_WAIT_LOCK"}, Destination: &o.WaitLock, DefaultText: "refuse at once", Usage: "wait this long for another deploy of the stack to end"},
	)
	return &cli.Command{
		Name: "deploy", Usage: "release the stack: jobs in their place, the services deployed and converged", ArgsUsage: " ", Flags: flags,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return &jobs.UsageError{Msg: fmt.Sprintf("jobrun deploy takes no arguments (got %q): name jobs with --job, or mark them in the stack file with x-jobrun", c.Args().First())}
			}
			o.Options.From(c)
			o.PreJobs, o.PostJobs = c.StringSlice("job"), c.StringSlice("post-deploy-job")
			return Run(c.Context, o)
		},
	}
}

// release is one run of jobrun deploy: what it was given and what it did.
type release struct {
	o      *Options
	s      *stackjobs.Session // the engine, the stack file, the jobs' spec
	engine client.APIClient
	report jobs.Reporter
	plan   deploy.Plan
	target deploy.Stack
	rec    deploy.Record
	runs   []jobs.Record
	specs  deploy.Specs // the services as a released deploy left them, for jobrun rollback
}

// Run releases the stack: lock, networks, the pre-deploy jobs' dependencies,
// the pre-deploy jobs, the services, the post-deploy jobs; then the record.
func Run(ctx context.Context, o *Options) error {
	if o.DryRun {
		return dryRun(ctx, o)
	}
	warn := cmdutil.NewWarnings(o.IO.Err, "jobrun: deploy: WARNING: ")
	defer cmdutil.RouteLogrus(warn)()
	spec, stack, plan, err := load(o, warn)
	if err != nil {
		return err
	}
	s, err := o.Open(ctx, stack, spec, "deploy")
	if err != nil {
		return err
	}
	defer s.Close()
	if len(plan.Jobs()) == 0 {
		s.Report.Notice("deploy", deploy.NoJob)
	}
	lock := &deploy.Lock{Engine: s.Engine, Stack: o.Stack, Now: o.Now, After: o.After}
	if err := lock.Acquire(ctx, o.Version, o.WaitLock); err != nil {
		return err
	}
	r := &release{o: o, s: s, engine: s.Engine, report: s.Report, plan: plan,
		target: deploy.Stack{Engine: s.Engine, Name: o.Stack, Config: stack.Config, Out: prefixed(o.Factory, "jobrun: deploy: "), Warn: warn, ResolveImage: o.ResolveImage, RegistryAuth: o.RegistryAuth, After: o.After},
		rec:    deploy.Record{ID: jobs.NewRunID(o.Now()), Stack: o.Stack, Version: o.Version, Started: o.Now(), Origin: o.Origin()}}
	o.Networks = r.target.RemakeNetwork
	err = r.run(ctx)
	r.rec.Ended = o.Now()
	end := ending{f: o.Factory, engine: s.Engine, report: s.Report, notify: o.Notify, output: o.Output}
	end.keep(ctx, r.rec, r.specs, o.Run.KeepRuns)
	if lerr := lock.Release(ctx); lerr != nil {
		s.Report.Notice("deploy", "WARNING: "+lerr.Error())
	}
	return end.conclude(ctx, r.rec, r.runs, err)
}

// ending is how a release or a rollback ends: its record kept, its verdict
// said, announced and, with -o json, written as a document.
type ending struct {
	f      *cmdutil.Factory
	engine client.APIClient
	report jobs.Reporter
	notify []string // --notify
	output string   // -o
}

// keep saves the deploy record, and a release's specs beside it, then
// bounds the stack's deploy records. What cannot be done is a WARNING:
// the verdict stands.
func (e ending) keep(ctx context.Context, rec deploy.Record, specs deploy.Specs, keepRuns int) {
	ctx = context.WithoutCancel(ctx)
	records := deploy.Records{Engine: e.engine}
	warn := func(err error) { e.report.Notice(kindOf(rec), "WARNING: "+jobs.Message(err)) }
	if err := records.Save(ctx, rec); err != nil {
		warn(err)
		return
	}
	if specs != nil {
		if err := records.SaveSpecs(ctx, rec.Stack, rec.ID, specs); err != nil {
			warn(err)
		}
	}
	if _, err := records.Prune(ctx, rec.Stack, keepRuns); err != nil {
		warn(err)
	}
}

// conclude says the verdict, announces it and writes the -o json
// document: the end of a deploy and of a rollback.
func (e ending) conclude(ctx context.Context, rec deploy.Record, runs []jobs.Record, err error) error {
	e.report.Notice(kindOf(rec), fmt.Sprintf("%s %s: %s", rec.Version, rec.Verdict, rec.Reason))
	announce := cmdutil.NewAnnouncements(ctx, e.f, e.report, e.notify)
	announce.Send(deployEvent(rec, err))
	if e.output == "json" {
		if runs == nil {
			runs = []jobs.Record{}
		}
		if jerr := jobs.WriteJSON(e.f.IO.Out, struct {
			Deploy deploy.Record `json:"deploy"`
			Runs   []jobs.Record `json:"runs"`
		}{rec, runs}); jerr != nil && err == nil {
			err = jerr
		}
	}
	announce.Wait()
	return err
}

// load checks the flags, reads the stack files and plans the release, all
// before the engine is reached; it shows what the release will ignore in
// the files, as docker stack deploy does.
func load(o *Options, warn io.Writer) (jobs.SpecOptions, *jobs.Stack, deploy.Plan, error) {
	if o.DeployTimeout <= 0 {
		return jobs.SpecOptions{}, nil, deploy.Plan{}, &jobs.UsageError{Msg: fmt.Sprintf("--deploy-timeout %s must be positive: use e.g. 10m", o.DeployTimeout)}
	}
	if err := cmdutil.CheckPlanTimeout(o.PlanTimeout); err != nil {
		return jobs.SpecOptions{}, nil, deploy.Plan{}, err
	}
	spec, stack, err := o.Load()
	if err != nil {
		return spec, nil, deploy.Plan{}, err
	}
	plan, err := deploy.NewPlan(stack.Config, o.PreJobs, o.PostJobs)
	if err != nil {
		return spec, nil, plan, err
	}
	if err := stackjobs.CheckJobs(stack, plan.Jobs()); err != nil {
		return spec, nil, plan, err
	}
	if err := stackjobs.CheckExtensions(stack, plan.Jobs()); err != nil {
		return spec, nil, plan, err
	}
	for _, w := range append(stackdeploy.Warnings(stack.Details, plan.Jobs()), plan.Warnings...) {
		fmt.Fprintln(warn, w)
	}
	return spec, stack, plan, nil
}

// run does the release's steps in order; each failure says what ran.
func (r *release) run(ctx context.Context) error {
	r.reportOldJobServices(ctx)
	if err := r.target.CreateNetworks(ctx); err != nil {
		return r.fail(deploy.ServicesFailed, "could not create the stack's networks", err)
	}
	// The secrets and configs first, as the deploy would make them: one whose
	// data changed fails the release here, before a job ran with the old one.
	if err := r.target.Deploy(ctx, nil, false); err != nil {
		return r.fail(deploy.ServicesFailed, "could not deploy the stack's secrets and configs", err)
	}
	if len(r.plan.Deps) > 0 {
		if err := r.deployAndWait(ctx, r.plan.Deps, false); err != nil {
			return err
		}
	}
	if err := r.jobs(ctx, r.plan.Pre, deploy.PreDeploy); err != nil {
		changed := "no service was changed"
		if len(r.plan.Deps) > 0 {
			changed = "only what it depends on was deployed: " + strings.Join(r.plan.Deps, ", ")
		}
		err = r.fail(deploy.JobFailed, "a pre-deploy job did not succeed, so the release stopped; "+changed, err)
		if warning := r.mayHaveChanged(ctx); warning != "" {
			r.rec.Reason += "; " + warning
		}
		return err
	}
	if err := r.deployAndWait(ctx, append(append([]string(nil), r.plan.Deps...), r.plan.Services...), r.o.Prune); err != nil {
		return err
	}
	if err := r.jobs(ctx, r.plan.Post, deploy.PostDeploy); err != nil {
		return r.fail(deploy.JobFailed, "the services are deployed and converged, but a post-deploy job did not succeed", err)
	}
	r.rec.Verdict, r.rec.Reason = deploy.Released, r.summary()
	if services, err := r.target.Services(ctx); err == nil {
		r.specs = deploy.SpecsOf(services)
	} else {
		r.report.Notice("deploy", "WARNING: the services' specs were not kept, so jobrun rollback cannot put this release back: "+jobs.Message(err))
	}
	return nil
}

// jobs runs the phase's jobs in order, as jobrun run does.
func (r *release) jobs(ctx context.Context, names []string, phase deploy.Phase) error {
	if len(names) == 0 {
		return nil
	}
	recs, err := r.s.Jobs(ctx, names, nil)
	r.runs = append(r.runs, recs...)
	for _, rec := range recs {
		r.rec.Jobs = append(r.rec.Jobs, deploy.JobRun{Job: rec.Job, Phase: phase, RunID: rec.RunID, Outcome: rec.Outcome, Skipped: rec.Skipped})
	}
	return err
}

// deployAndWait deploys the named services and waits until every one of
// them converged, changed or not: a service deployed again as it was may
// still not run.
func (r *release) deployAndWait(ctx context.Context, names []string, prune bool) error {
	since := r.o.Now()
	before, err := r.target.Services(ctx)
	if err != nil {
		return r.fail(deploy.ServicesFailed, "could not list the stack's services", err)
	}
	if err := r.target.Deploy(ctx, names, prune); err != nil {
		return r.fail(deploy.ServicesFailed, "docker stack deploy failed", err)
	}
	after, err := r.target.Services(ctx)
	if err != nil {
		return r.fail(deploy.ServicesFailed, "could not list the stack's services", err)
	}
	var targets []deploy.Target
	for _, n := range names {
		if svc, ok := after[n]; ok {
			old, existed := before[n]
			targets = append(targets, deploy.Target{Name: n, ID: svc.ID, Changed: !existed || !reflect.DeepEqual(old.Spec, svc.Spec)})
		}
	}
	results := rollout{f: r.o.Factory, engine: r.engine, who: "deploy", timeout: r.o.DeployTimeout}.converge(ctx, targets, since)
	r.rec.Services = merge(r.rec.Services, results)
	bad, worst := judge(results)
	if len(bad) == 0 {
		return nil
	}
	return r.failCode(deploy.ServicesFailed, strings.Join(bad, "; "), worst)
}

// rollout is how a command waits for its services to converge: as who
// (deploy, rollback), for at most timeout.
type rollout struct {
	f       *cmdutil.Factory
	engine  client.APIClient
	who     string
	timeout time.Duration
}

// converge waits up to the timeout for the targets to converge, with docker
// service update's progress bars on a terminal, and judges each one.
func (ro rollout) converge(ctx context.Context, targets []deploy.Target, since time.Time) []deploy.ServiceResult {
	ctx, cancel := context.WithTimeout(ctx, ro.timeout)
	defer cancel()
	w := deploy.Waiter{Engine: ro.engine, Out: ro.f.IO.Err, Who: ro.who, After: ro.f.After}
	if file, ok := ro.f.IO.Err.(*os.File); ok && ro.f.IO.OutIsTerminal {
		w.Terminal, w.TerminalFd = true, file.Fd()
	}
	return w.Wait(ctx, targets, since)
}

// judge names the services that did not converge, and the exit code of
// the worst way one ended.
func judge(results []deploy.ServiceResult) (bad []string, worst int) {
	for _, res := range results {
		if !res.Result.Done() {
			bad = append(bad, fmt.Sprintf("service %s %s (%s)", res.Service, res.Result, res.Message))
			worst = max(worst, exitCode(res.Result))
		}
	}
	return bad, worst
}

// merge keeps one result per service, in the order the services came: the
// newest, unless it only says that a service converged earlier in this
// release is unchanged since.
func merge(have, newer []deploy.ServiceResult) []deploy.ServiceResult {
	out := slices.Clone(have)
	for _, n := range newer {
		i := slices.IndexFunc(out, func(h deploy.ServiceResult) bool { return h.Service == n.Service })
		switch {
		case i < 0:
			out = append(out, n)
		case n.Result != deploy.Unchanged:
			out[i] = n
		}
	}
	return out
}

func exitCode(res deploy.Result) int {
	switch res {
	case deploy.RolledBack:
		return jobs.ExitRolledBack
	case deploy.Paused:
		return jobs.ExitPaused
	case deploy.TimedOut:
		return jobs.ExitTimedOut
	}
	return jobs.ExitEngine
}

// summary says what the release did: each job's run, each service's result.
func (r *release) summary() string {
	var parts []string
	if len(r.plan.Jobs()) == 0 {
		parts = append(parts, "no job")
	}
	for _, j := range r.rec.Jobs {
		what := fmt.Sprintf("job %s %s (run %s)", j.Job, j.Outcome, j.RunID)
		if j.Skipped {
			what = fmt.Sprintf("job %s already succeeded for this version (run %s)", j.Job, j.RunID)
		}
		parts = append(parts, what)
	}
	parts = append(parts, serviceResults(r.rec.Services)...)
	return strings.Join(parts, ", ")
}

// serviceResults says each service's result as "service db unchanged":
// "db unchanged" reads as "the database is fine".
func serviceResults(results []deploy.ServiceResult) []string {
	parts := make([]string, len(results))
	for i, s := range results {
		parts[i] = "service " + s.Service + " " + string(s.Result)
	}
	return parts
}

// fail records why the release did not end well, and returns the error
// that carries its exit code.
func (r *release) fail(v deploy.Verdict, why string, err error) error {
	r.rec.Verdict, r.rec.Reason = v, why+": "+r.summary()
	var verdict *jobs.VerdictError
	if errors.As(err, &verdict) {
		return err // the job's verdict is printed already, with its code
	}
	r.rec.Reason += ": " + jobs.Message(err)
	return &jobs.ReportedError{Err: err} // the release's verdict line says it
}

func (r *release) failCode(v deploy.Verdict, why string, code int) error {
	r.rec.Verdict = v
	r.rec.Reason = why + "; so far: " + r.summary()
	if ran := r.ranJobs(); ran != "" {
		r.rec.Reason += "; the pre-deploy jobs ran and stay applied: " + ran
	}
	return &jobs.ReleaseError{Msg: "release " + r.o.Version + " failed: " + why, Code: code}
}

func (r *release) ranJobs() string {
	var ran []string
	for _, j := range r.rec.Jobs {
		if j.Phase == deploy.PreDeploy && j.Outcome == jobs.Succeeded && !j.Skipped {
			ran = append(ran, j.Job)
		}
	}
	return strings.Join(ran, ", ")
}

// reportOldJobServices names the <stack>_<job> services that the old way
// of deploying jobs left: docker stack deploy ran the job as a service.
func (r *release) reportOldJobServices(ctx context.Context) {
	have, err := r.target.Services(ctx)
	if err != nil {
		return
	}
	for _, job := range r.plan.Jobs() {
		svc, ok := have[job]
		if !ok {
			continue
		}
		if r.o.Prune {
			r.report.Notice("deploy", fmt.Sprintf("service %s runs job %s as an ordinary service (the old way of deploying jobs): --prune removes it", svc.Spec.Name, job))
		} else {
			r.report.Notice("deploy", fmt.Sprintf("WARNING: service %s runs job %s as an ordinary service (the old way of deploying jobs): remove it with --prune, or docker service rm %s", svc.Spec.Name, job, svc.Spec.Name))
		}
	}
}

// prefixed writes docker stack deploy's own lines to stderr as jobrun's.
func prefixed(f *cmdutil.Factory, prefix string) io.Writer {
	return jobs.PrefixLines(f.IO.Err, prefix)
}

// deployEvent is what is announced of a release.
func deployEvent(rec deploy.Record, err error) notify.Event {
	return notify.Event{
		Kind: kindOf(rec), Stack: rec.Stack, Version: rec.Version, Verdict: string(rec.Verdict), ExitCode: jobs.ExitCodeOf(err),
		Duration: rec.Ended.Sub(rec.Started), Reason: rec.Reason, Who: rec.Origin.Who, RunURL: rec.Origin.RunURL,
		Output: "jobrun history --stack " + rec.Stack,
	}
}

// kindOf says whether a deploy record is a release or a rollback, as its
// lines and announcements name it.
func kindOf(rec deploy.Record) string {
	if rec.Restores != "" {
		return "rollback"
	}
	return "deploy"
}
