// Package run is `jobrun run JOB...` (also jobrun's default command): run
// the stack file's jobs to a verdict, in order or at once.
package run

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
)

// Options are jobrun run's flags and arguments.
type Options struct {
	cmdutil.Common
	Files          []string
	Jobs           []string
	Version        string
	Output         string
	Parallel       bool
	Legacy         bool
	MaxAttempts    int    // restarts; -1: the stack file's
	RestartDelay   string // "": the stack file's
	ResolveImage   string
	PendingTimeout time.Duration
	FinalExitCodes []int    // --final-exit-code; nil: the stack file's
	RetryWhen      []string // --retry-when; nil: the stack file's
	Notify         []string
	Run            jobs.RunOptions
	Logs           jobs.LogOptions
	// Deploying: jobrun deploy runs the jobs, and reports the stack's
	// services that run them itself.
	Deploying bool
	// Networks makes a job's network removed under it again: jobrun
	// deploy's; nil for a run, which asks for a deploy instead.
	Networks jobs.NetworkMaker
}

// Flags are jobrun run's flags, bound to o.
func Flags(o *Options) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "compose-file", Aliases: []string{"c"}, Value: cli.NewStringSlice("stack.yml"), EnvVars: []string{"JOBRUN_COMPOSE_FILE"}, Usage: "stack file(s), merged in order as docker stack deploy -c does"},
		&cli.StringFlag{Name: "version", EnvVars: []string{"JOBRUN_VERSION", "APP_VERSION"}, Destination: &o.Version, Usage: "the version to run: sets APP_VERSION for the stack file (default: git rev-parse --short HEAD)"},
		&cli.DurationFlag{Name: "timeout", Value: time.Hour, EnvVars: []string{"JOBRUN_TIMEOUT"}, Destination: &o.Run.Timeout, DefaultText: "the job's x-jobrun timeout, else 1h", Usage: "stop the job and fail after this long"},
		&cli.IntSliceFlag{Name: "final-exit-code", EnvVars: []string{"JOBRUN_FINAL_EXIT_CODES"}, DefaultText: "the job's x-jobrun final-exit-codes", Usage: "an exit code after which the job is not tried again (repeat for several)"},
		&cli.StringSliceFlag{Name: "retry-when", EnvVars: []string{"JOBRUN_RETRY_WHEN"}, DefaultText: "the job's x-jobrun retry-when, else every failure", Usage: "a text in a failed attempt's output that makes another attempt worth it; a failure without any is final (repeat for several)"},
		&cli.DurationFlag{Name: "pending-timeout", Value: 2 * time.Minute, EnvVars: []string{"JOBRUN_PENDING_TIMEOUT"}, Destination: &o.PendingTimeout, Usage: "fail when no node takes a task for this long"},
		cmdutil.EngineWaitFlag(&o.Run.Reconnect),
		&cli.IntFlag{Name: "max-attempts", Value: -1, EnvVars: []string{"JOBRUN_MAX_ATTEMPTS"}, Destination: &o.MaxAttempts, DefaultText: "the stack file's, else 6", Usage: "restarts after a failure, as Swarm's max_attempts (runs = this + 1)"},
		&cli.StringFlag{Name: "restart-delay", EnvVars: []string{"JOBRUN_RESTART_DELAY"}, Destination: &o.RestartDelay, DefaultText: "the stack file's, else 30s", Usage: "wait between attempts"},
		cmdutil.OutputFlag(&o.Output),
		cmdutil.NotifyFlag(),
		&cli.StringFlag{Name: "resolve-image", Value: "always", EnvVars: []string{"JOBRUN_RESOLVE_IMAGE"}, Destination: &o.ResolveImage, Usage: "pin the image to its registry digest, as docker stack deploy --resolve-image: always, changed or never"},
		&cli.BoolFlag{Name: "keep", EnvVars: []string{"JOBRUN_KEEP"}, Destination: &o.Run.Keep, Usage: "leave the job service in place when it ends"},
		cmdutil.KeepRunsFlag(&o.Run.KeepRuns),
		&cli.BoolFlag{Name: "force", EnvVars: []string{"JOBRUN_FORCE"}, Destination: &o.Run.Force, Usage: "run even if this version already succeeded"},
		&cli.BoolFlag{Name: "detach-on-interrupt", EnvVars: []string{"JOBRUN_DETACH_ON_INTERRUPT"}, Destination: &o.Run.DetachOnInterrupt, Usage: "on Ctrl-C leave the job running instead of stopping it"},
		&cli.BoolFlag{Name: "parallel", EnvVars: []string{"JOBRUN_PARALLEL"}, Destination: &o.Parallel, Usage: "run several jobs at once instead of in order"},
		&cli.BoolFlag{Name: "legacy-mode", EnvVars: []string{"JOBRUN_LEGACY_MODE"}, Destination: &o.Legacy, Hidden: true, Usage: "run as a replicas:1 service, as on engines older than API 1.41"},
	}
	flags = append(flags, cmdutil.CommonFlags(&o.Common)...)
	return append(flags, cmdutil.LogFlags(&o.Logs)...)
}

// NewCommand is `jobrun run`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := &Options{}
	return &cli.Command{
		Name: "run", Usage: "run jobs (the default command)", ArgsUsage: "JOB [JOB...]", Flags: Flags(o),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return &jobs.UsageError{Msg: "name a job to run, e.g. jobrun run migrate"}
			}
			return Run(c.Context, f, o.From(c))
		},
	}
}

// From completes the options with what the flag destinations do not hold.
func (o *Options) From(c *cli.Context) *Options {
	o.Files, o.Jobs, o.Notify = c.StringSlice("compose-file"), c.Args().Slice(), cmdutil.NotifyURLs(c)
	if !c.IsSet("timeout") {
		// Not given: the job's x-jobrun timeout wins over the default.
		o.Run.DefaultTimeout, o.Run.Timeout = o.Run.Timeout, 0
	}
	if c.IsSet("final-exit-code") {
		o.FinalExitCodes = append([]int{}, c.IntSlice("final-exit-code")...)
	}
	if c.IsSet("retry-when") {
		o.RetryWhen = append([]string{}, c.StringSlice("retry-when")...)
	}
	return o
}

// Check checks the flags and turns them into what shapes the job services.
func (o *Options) Check(f *cmdutil.Factory) (jobs.SpecOptions, error) {
	if err := o.Common.Check(); err != nil {
		return jobs.SpecOptions{}, err
	}
	if err := cmdutil.CheckOutput(o.Output); err != nil {
		return jobs.SpecOptions{}, err
	}
	if err := cmdutil.CheckLogs(&o.Logs); err != nil {
		return jobs.SpecOptions{}, err
	}
	switch {
	case o.Run.Timeout < 0 || o.Run.Timeout == 0 && o.Run.DefaultTimeout <= 0:
		return jobs.SpecOptions{}, &jobs.UsageError{Msg: fmt.Sprintf("--timeout %s must be positive: use e.g. 30m", o.Run.Timeout)}
	case o.PendingTimeout <= 0:
		return jobs.SpecOptions{}, &jobs.UsageError{Msg: fmt.Sprintf("--pending-timeout %s must be positive: use e.g. 2m", o.PendingTimeout)}
	case o.Run.Reconnect <= 0:
		return jobs.SpecOptions{}, &jobs.UsageError{Msg: fmt.Sprintf("--engine-wait %s must be positive: use e.g. 2m", o.Run.Reconnect)}
	case o.Run.KeepRuns < 1:
		return jobs.SpecOptions{}, cmdutil.KeepRunsError(o.Run.KeepRuns)
	case o.ResolveImage != "always" && o.ResolveImage != "changed" && o.ResolveImage != "never":
		return jobs.SpecOptions{}, &jobs.UsageError{Msg: fmt.Sprintf("--resolve-image %q is unknown: use always, changed or never", o.ResolveImage)}
	}
	if err := jobs.CheckExitCodes(o.FinalExitCodes); err != nil {
		return jobs.SpecOptions{}, err
	}
	if err := jobs.CheckRetryWhen(o.RetryWhen); err != nil {
		return jobs.SpecOptions{}, err
	}
	if err := cmdutil.CheckNotify(o.Notify); err != nil {
		return jobs.SpecOptions{}, err
	}
	version, err := cmdutil.ResolveVersion(o.Version, f.GitVersion)
	if err != nil {
		return jobs.SpecOptions{}, err
	}
	o.Version = version
	// A job service is always new, so "changed" resolves as "always" does.
	o.Run.QueryRegistry = o.ResolveImage != "never"
	spec := jobs.SpecOptions{Version: version, PendingTimeout: o.PendingTimeout, RetryWhen: o.RetryWhen}
	if o.FinalExitCodes != nil {
		codes := jobs.NewExitCodes(o.FinalExitCodes...)
		spec.FinalExitCodes = &codes
	}
	if o.MaxAttempts >= 0 {
		n := uint64(o.MaxAttempts)
		spec.MaxAttempts = &n
	}
	if o.RestartDelay != "" {
		d, err := time.ParseDuration(o.RestartDelay)
		if err != nil || d < 0 {
			return jobs.SpecOptions{}, &jobs.UsageError{Msg: fmt.Sprintf("--restart-delay %q is not a duration: use e.g. 30s or 1m", o.RestartDelay)}
		}
		spec.RestartDelay = &d
	}
	return spec, nil
}

// Load checks the flags, then reads the stack files with APP_VERSION set
// to the version: a mistake in either is reported before the engine is
// reached.
func (o *Options) Load(f *cmdutil.Factory) (jobs.SpecOptions, *jobs.Stack, error) {
	spec, err := o.Check(f)
	if err != nil {
		return spec, nil, err
	}
	stack, err := o.loadStack(f)
	return spec, stack, err
}

func (o *Options) loadStack(f *cmdutil.Factory) (*jobs.Stack, error) {
	env := map[string]string{}
	for k, v := range f.Env {
		env[k] = v
	}
	env["APP_VERSION"] = o.Version
	return jobs.LoadStack(o.Stack, o.Files, env)
}

// CheckJobs says what is wrong with the named jobs of the stack file.
func CheckJobs(stack *jobs.Stack, names []string) error {
	for _, name := range names {
		if _, err := stack.Service(name); err != nil {
			return err
		}
		if !jobs.ValidName(jobs.ServiceName(stack.Name, name)) {
			return &jobs.UsageError{Msg: fmt.Sprintf("job name %q cannot name a Swarm service: use letters, digits, '-' and '_' (63 characters at most with the stack name)", name)}
		}
	}
	return nil
}

// Connect reaches the engine and says, as who, how jobs run on it.
func (o *Options) Connect(ctx context.Context, f *cmdutil.Factory, spec *jobs.SpecOptions, who string) (client.APIClient, jobs.Reporter, error) {
	engine, info, err := f.Connect(ctx, o.Common)
	if err != nil {
		return nil, nil, err
	}
	o.Logs.DefaultDriver = info.LoggingDriver
	report := jobs.NewTextReporter(f.IO.Out, f.IO.Err, f.IO.OutIsTerminal, o.Output == "json")
	report.Notice(who, info.String()) // the run's first line: which engine
	spec.Legacy = o.Legacy || versions.LessThan(engine.ClientVersion(), jobs.ReplicatedJobsAPI)
	if spec.Legacy {
		report.Notice(who, fmt.Sprintf("engine API %s has no replicated jobs (1.41+): running each job as a replicas:1 service with the same restart policy", engine.ClientVersion()))
	}
	return engine, report, nil
}

// Run runs the jobs in order, stopping at the first that does not succeed,
// or all at once with Parallel. Its error carries the exit code.
func Run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	defer cmdutil.RouteLogrus(cmdutil.NewWarnings(f.IO.Err, "jobrun: WARNING: "))()
	spec, stack, err := o.Load(f)
	if err != nil {
		return err
	}
	if err := CheckJobs(stack, o.Jobs); err != nil {
		return err
	}
	engine, report, err := o.Connect(ctx, f, &spec, o.Jobs[0])
	if err != nil {
		return err
	}
	defer engine.Close()
	announce, origin := cmdutil.NewAnnouncements(ctx, f, report, o.Notify), f.Origin()
	records, err := runJobs(ctx, f, o, engine, stack, spec, report, o.Jobs, func(rec jobs.Record, err error) {
		announce.Send(cmdutil.RunEvent(rec, err, origin))
	})
	if o.Output == "json" {
		// The run's own outcome wins: a pipeline that could not read the
		// document still learns how the job ended.
		if werr := jobs.WriteRuns(f.IO.Out, records); werr != nil && err == nil {
			err = werr
		}
	}
	announce.Wait()
	return err
}

// Jobs builds the named jobs and runs them: in order, stopping at the first
// that does not succeed, or all at once with Parallel. It returns the
// records of the runs that started or were found, and the first error.
func Jobs(ctx context.Context, f *cmdutil.Factory, o *Options, engine client.APIClient, stack *jobs.Stack, spec jobs.SpecOptions, report jobs.Reporter, names []string) ([]jobs.Record, error) {
	return runJobs(ctx, f, o, engine, stack, spec, report, names, nil)
}

// runJobs is Jobs telling ended (if set) of each job's record and error
// as soon as its run ends.
func runJobs(ctx context.Context, f *cmdutil.Factory, o *Options, engine client.APIClient, stack *jobs.Stack, spec jobs.SpecOptions, report jobs.Reporter, names []string, ended func(jobs.Record, error)) ([]jobs.Record, error) {
	todo, err := prepare(ctx, f, o, engine, stack, spec, report, names)
	if err != nil {
		return nil, err
	}
	run := func(i int) (jobs.Record, error) {
		rec, err := todo[i].run(ctx, report)
		if ended != nil {
			ended(rec, err)
		}
		return rec, err
	}
	records, errs := runAll(len(todo), run, o.Parallel)
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
func prepare(ctx context.Context, f *cmdutil.Factory, o *Options, engine client.APIClient, stack *jobs.Stack, spec jobs.SpecOptions, report jobs.Reporter, names []string) ([]prepared, error) {
	set := cmdutil.NewRunners(f, engine, stack.Name, o.Logs, report, o.Run)
	set.Networks = o.Networks
	todo := make([]prepared, 0, len(names))
	for _, name := range names {
		if !o.Run.Force {
			prev, ok, err := jobs.PriorSuccess(ctx, jobs.Records{Engine: engine}, stack.Name, name, spec.Version)
			if err != nil {
				return nil, err
			}
			if ok {
				todo = append(todo, prepared{prev: &prev})
				continue
			}
		}
		s := spec
		s.RunID = jobs.NewRunID(f.Now())
		job, err := jobs.Build(ctx, engine, stack, name, s)
		if err != nil {
			return nil, err
		}
		r, err := set.For(ctx, job)
		if err != nil {
			return nil, err
		}
		for _, note := range job.Notes {
			report.Notice(job.Name, note)
		}
		warnIfStackDeploysIt(ctx, o, engine, report, job)
		todo = append(todo, prepared{runner: r, job: job})
	}
	return todo, nil
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

// warnIfStackDeploysIt warns when `docker stack deploy` also runs the job as
// an ordinary service: it then runs on every deploy, beside jobrun's run.
// Within jobrun deploy the release has said so once already, with its own
// fix (--prune).
func warnIfStackDeploysIt(ctx context.Context, o *Options, engine client.APIClient, report jobs.Reporter, job jobs.Job) {
	if o.Deploying {
		return
	}
	name := job.Stack + "_" + job.Name
	svc, _, err := engine.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if err != nil || svc.Spec.Labels[jobs.LabelStackNamespace] != job.Stack {
		return
	}
	report.Notice(job.Name, fmt.Sprintf("WARNING: stack %s also deploys %s as service %s, so it runs on every docker stack deploy as well: release with jobrun deploy, which runs it as a job only", job.Stack, job.Name, name))
}
