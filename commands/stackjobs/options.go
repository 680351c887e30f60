// Package stackjobs is what the commands that run a stack's jobs (jobrun
// run, deploy, exec and plan) share: their options, which carry the command's
// dependencies (IO with stdin, environment, clock, the way to the engine)
// beside the flags that shape a run, and the one way a stack's jobs are
// checked, built and run. Each command embeds these options and calls
// this layer; none reaches into another's package.
package stackjobs

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
)

// Options are what a run of a stack's jobs is given.
type Options struct {
	// Factory is the command's IO (stdin too), environment, clock and way
	// to the engine.
	*cmdutil.Factory
	cmdutil.Common
	Files          []string
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
	// Networks makes a job's network removed under it again: jobrun
	// deploy's; nil for a run, which asks for a deploy instead.
	Networks jobs.NetworkMaker
	// Built, if set, is told of each job once it is built, before any of
	// them runs: jobrun run warns there of a stack that deploys the job too.
	Built func(ctx context.Context, s *Session, job jobs.Job)
}

// Flags are the flags of a run of jobs (jobrun run's, and jobrun deploy's
// beside its own), bound to o.
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

// From completes the options with what the flag destinations do not hold.
func (o *Options) From(c *cli.Context) *Options {
	o.Files, o.Notify = c.StringSlice("compose-file"), cmdutil.NotifyURLs(c)
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
func (o *Options) Check() (jobs.SpecOptions, error) {
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
	version, err := cmdutil.ResolveVersion(o.Version, o.GitVersion)
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
func (o *Options) Load() (jobs.SpecOptions, *jobs.Stack, error) {
	spec, err := o.Check()
	if err != nil {
		return spec, nil, err
	}
	stack, err := o.loadStack()
	return spec, stack, err
}

func (o *Options) loadStack() (*jobs.Stack, error) {
	env := map[string]string{}
	for k, v := range o.Env {
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

// CheckExtensions says what is wrong with the named jobs' x-jobrun, before
// the engine is reached: a dry run, which builds no job, finds it too.
func CheckExtensions(stack *jobs.Stack, names []string) error {
	for _, name := range names {
		if _, err := stack.Extension(name); err != nil {
			return err
		}
	}
	return nil
}
