// Package exec is `jobrun exec JOB -- CMD [ARG...]`: one command run once
// in a job's own context (its image pinned to a digest, environment,
// secrets, configs, networks, placement, logging), as the on-call person
// runs showmigrations or dbshell after a failed migration. It is never a
// run of the job: no lock, no version marked succeeded.
package exec

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/commands/stackjobs"
	"jobrun/jobs"
)

// Options are jobrun exec's flags and arguments, and what it runs with.
// The stack, version, log and timeout flags are a run's, and checked as a
// run's.
type Options struct {
	stackjobs.Options
	Job         string
	Command     []string
	DashDash    bool     // the command came after --
	Entrypoint  []string // nil: the job's
	Interactive bool     // -i: attach stdin
	TTY         bool     // -t: a pseudo-terminal
	// ReplayRun and ReplayAttempt (--run, --attempt) name a recorded
	// attempt to make again where it ran, from the run's kept spec.
	ReplayRun     string
	ReplayAttempt int
}

// Name is the command's name: the one whose arguments after its job are a
// command line (JOB -- CMD), which the argument parser must know.
const Name = "exec"

// NewCommand is `jobrun exec`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := &Options{Options: stackjobs.Options{Factory: f}}
	var entrypoint string
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "compose-file", Aliases: []string{"c"}, Value: cli.NewStringSlice("stack.yml"), EnvVars: []string{"JOBRUN_COMPOSE_FILE"}, Usage: "stack file(s), merged in order as docker stack deploy -c does"},
		&cli.StringFlag{Name: "version", EnvVars: []string{"JOBRUN_VERSION", "APP_VERSION"}, Destination: &o.Version, Usage: "the version whose image and context to use: sets APP_VERSION for the stack file (default: git rev-parse --short HEAD)"},
		&cli.StringFlag{Name: "entrypoint", EnvVars: []string{"JOBRUN_ENTRYPOINT"}, Destination: &entrypoint, Usage: "replace the image's entrypoint too, as docker run --entrypoint"},
		&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, EnvVars: []string{"JOBRUN_INTERACTIVE"}, Destination: &o.Interactive, Usage: "attach stdin (the task runs on the node jobrun talks to)"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, EnvVars: []string{"JOBRUN_TTY"}, Destination: &o.TTY, Usage: "a pseudo-terminal: with -i, an interactive shell"},
		// --run and --attempt read no environment: a replay is said on the
		// command line, and JOBRUN_ATTEMPT is jobrun logs'.
		&cli.StringFlag{Name: "run", Destination: &o.ReplayRun, Usage: "replay an attempt of this recorded run (its ID, from jobrun history or jobrun logs) on the node it ran on, from the run's kept spec; needs --attempt"},
		&cli.IntFlag{Name: "attempt", Destination: &o.ReplayAttempt, Usage: "with --run: the attempt to replay; the command after -- replaces the attempt's own"},
		&cli.DurationFlag{Name: "timeout", Value: time.Hour, EnvVars: []string{"JOBRUN_TIMEOUT"}, Destination: &o.Run.Timeout, Usage: "stop the command and fail (exit 124) after this long"},
		&cli.DurationFlag{Name: "pending-timeout", Value: 2 * time.Minute, EnvVars: []string{"JOBRUN_PENDING_TIMEOUT"}, Destination: &o.PendingTimeout, Usage: "fail when no node takes the task for this long"},
		&cli.StringFlag{Name: "resolve-image", Value: "always", EnvVars: []string{"JOBRUN_RESOLVE_IMAGE"}, Destination: &o.ResolveImage, Usage: "pin the image to its registry digest, as a run does: always, changed or never"},
		cmdutil.EngineWaitFlag(&o.Run.Reconnect),
		cmdutil.KeepRunsFlag(&o.Run.KeepRuns),
		cmdutil.NotifyFlag(),
	}
	flags = append(flags, cmdutil.CommonFlags(&o.Common)...)
	return &cli.Command{
		Name: Name, Usage: "run a command once in a job's context (image, env, secrets, networks)",
		ArgsUsage: "JOB -- CMD [ARG...] | JOB --run RUN_ID --attempt N [-- CMD [ARG...]]", Flags: append(flags, cmdutil.LogFlags(&o.Logs)...),
		UseShortOptionHandling: true, // -it, as docker run -it
		Action: func(c *cli.Context) error {
			o.Files, o.Output, o.MaxAttempts, o.Notify = c.StringSlice("compose-file"), "text", 0, cmdutil.NotifyURLs(c)
			if c.IsSet("entrypoint") {
				o.Entrypoint = []string{entrypoint}
				if entrypoint == "" {
					o.Entrypoint = []string{}
				}
			}
			o.Job, o.DashDash, o.Command = splitArgs(c.Args().Slice())
			return Run(c.Context, o)
		},
	}
}

// splitArgs reads JOB -- CMD [ARG...]; jobrun's argument order keeps the
// -- of an exec after its job (commands.permute).
func splitArgs(args []string) (job string, dashdash bool, command []string) {
	if len(args) == 0 {
		return "", false, nil
	}
	if len(args) > 1 && args[1] == "--" {
		return args[0], true, args[2:]
	}
	return args[0], false, args[1:]
}

// Check says what is wrong with the command line, one line each, naming
// the fix.
func (o *Options) Check() error {
	if err := cmdutil.CheckNotify(o.Notify); err != nil {
		return err
	}
	switch {
	case o.Job == "":
		return &jobs.UsageError{Msg: "name a job and the command: jobrun exec JOB -- CMD [ARG...], e.g. jobrun exec migrate -- python3 manage.py showmigrations"}
	case o.ReplayAttempt != 0 && o.ReplayRun == "":
		return &jobs.UsageError{Msg: fmt.Sprintf("--attempt replays an attempt of a recorded run: name the run too, jobrun exec %s --run RUN_ID --attempt %d (jobrun history lists the runs)", o.Job, o.ReplayAttempt)}
	case o.ReplayRun != "" && o.ReplayAttempt < 1:
		return &jobs.UsageError{Msg: fmt.Sprintf("name the attempt of run %s to replay: --attempt N (jobrun logs --run %s lists them with their nodes)", o.ReplayRun, o.ReplayRun)}
	case o.ReplayRun != "" && !o.DashDash && len(o.Command) == 0:
		// A replay runs the attempt's own command unless one is given.
	case !o.DashDash:
		return &jobs.UsageError{Msg: fmt.Sprintf("put the command after --: jobrun exec %s -- CMD [ARG...] (jobrun's flags go before the --)", o.Job)}
	case len(o.Command) == 0:
		return &jobs.UsageError{Msg: fmt.Sprintf("no command after --: name one, e.g. jobrun exec %s -- sh", o.Job)}
	case o.TTY && o.IO.InTerminal == nil:
		return &jobs.UsageError{Msg: "-t needs a terminal, and jobrun's stdin is not one: run it from a terminal, or drop -t (-i alone pipes stdin)"}
	}
	return nil
}

// Run runs the command once in the job's context and returns an error that
// carries its exit code (ExitError), or a usage error (exit 2).
func Run(ctx context.Context, o *Options) error {
	rec, err := execute(ctx, o)
	err = exitCode(rec, err)
	if rec.Exec != nil && rec.Outcome != "" {
		ev := cmdutil.RunEvent(rec, err, rec.Origin)
		ev.Kind, ev.Output = "exec", fmt.Sprintf("jobrun logs %s --exec --stack %s", rec.Job, rec.Stack)
		announce := cmdutil.NewAnnouncements(ctx, o.Factory, &jobs.TextReporter{Log: o.IO.Err}, o.Notify)
		announce.Send(ev)
		announce.Wait()
	}
	return err
}

func execute(ctx context.Context, o *Options) (jobs.Record, error) {
	if err := o.Check(); err != nil {
		return jobs.Record{}, err
	}
	defer cmdutil.RouteLogrus(cmdutil.NewWarnings(o.IO.Err, "jobrun: exec: WARNING: "))()
	if o.ReplayRun != "" {
		return replay(ctx, o)
	}
	spec, stack, err := o.Load()
	if err != nil {
		return jobs.Record{}, err
	}
	if err := stackjobs.CheckJobs(stack, []string{o.Job}); err != nil {
		return jobs.Record{}, err
	}
	s, err := o.open(ctx, stack, spec)
	if err != nil {
		return jobs.Record{}, err
	}
	defer s.Close()
	job, err := build(ctx, s, o)
	if err != nil {
		return jobs.Record{}, err
	}
	return o.exec(ctx, s, job, o.Command, nil)
}

// open reaches the engine; an interactive terminal is the command's.
func (o *Options) open(ctx context.Context, stack *jobs.Stack, spec jobs.SpecOptions) (*stackjobs.Session, error) {
	s, err := o.plain().Open(ctx, stack, spec, o.Job)
	if err != nil {
		return nil, err
	}
	if o.TTY && o.Interactive {
		s.Report = terminalReporter{s.Report}
	}
	return s, nil
}

// exec runs the built exec once and records it: command is what it runs,
// replayed the attempt it makes again, if any.
func (o *Options) exec(ctx context.Context, s *stackjobs.Session, job jobs.Job, command []string, replayed *jobs.ReplayInfo) (jobs.Record, error) {
	warnIfRunning(ctx, s, job)
	runner, err := o.runner(ctx, s, job)
	if err != nil {
		return jobs.Record{}, err
	}
	env := job.Spec.TaskTemplate.ContainerSpec.Env
	info := jobs.ExecInfo{Command: jobs.RedactCommand(command, env), User: runner.Origin.Who, Interactive: o.Interactive, Replay: replayed}
	if o.Entrypoint != nil {
		info.Entrypoint = jobs.RedactCommand(o.Entrypoint, env)
	}
	if replayed != nil {
		// The image is the record's, pinned as the run pinned it: asking
		// the registry again would follow the tag to where it is now.
		runner.Opts.QueryRegistry = false
	}
	return runner.Exec(ctx, job, info)
}

// plain is a copy of the run's options whose output is the command's:
// never prefixed, even on a terminal; in raw mode jobrun's own lines need
// their carriage return.
func (o *Options) plain() *stackjobs.Options {
	p, f := o.Options, *o.Factory
	f.IO.OutIsTerminal = false
	if o.TTY && o.Interactive {
		f.IO.Err = crlf{o.IO.Err}
	}
	p.Factory = &f
	return &p
}

// build converts the job as a run converts it, then makes it the exec: the
// command replaced, once, and with -i on this node.
func build(ctx context.Context, s *stackjobs.Session, o *Options) (jobs.Job, error) {
	job, err := s.Build(ctx, o.Job)
	if err != nil {
		return jobs.Job{}, err
	}
	s.Notes(job)
	e := jobs.ExecSpec{ID: job.RunID[len(job.RunID)-6:], Command: o.Command, Entrypoint: o.Entrypoint, TTY: o.TTY, Stdin: o.Interactive}
	if o.Interactive {
		if e.NodeID, err = thisNode(ctx, s.Engine, job); err != nil {
			return jobs.Job{}, err
		}
	}
	return jobs.AsExec(job, e)
}

// thisNode is the node of the engine jobrun talks to, once it is known to
// be one Swarm may place the job's task on: only its engine can attach.
func thisNode(ctx context.Context, engine client.APIClient, job jobs.Job) (string, error) {
	info, err := engine.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", &jobs.EngineError{Msg: "docker info", Err: err}
	}
	res, err := engine.NodeInspect(ctx, info.Info.Swarm.NodeID, client.NodeInspectOptions{})
	if err != nil {
		return "", &jobs.EngineError{Msg: "inspect this node", Err: err}
	}
	node := res.Node
	if why := jobs.MayNotRunOn(job, node); why != "" {
		return "", &jobs.UsageError{Msg: fmt.Sprintf("-i attaches through the engine of the node the command runs on, and %s: point --context or DOCKER_HOST at a manager the job may run on, or drop -i", why)}
	}
	return node.ID, nil
}

// warnIfRunning says so when a run of the job is in progress: the exec
// runs beside it, on the same database.
func warnIfRunning(ctx context.Context, s *stackjobs.Session, job jobs.Job) {
	name := jobs.ServiceName(job.Stack, job.Name)
	res, err := s.Engine.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	l := res.Service.Spec.Labels
	if err != nil || l[jobs.LabelJob] == "" || l[jobs.LabelStopped] != "" {
		return
	}
	s.Report.Notice(job.Name, fmt.Sprintf("WARNING: a run of %s is in progress (version %s, run %s, service %s): this exec runs beside it", job.Name, l[jobs.LabelVersion], l[jobs.LabelRunID], name))
}

// runner is a run's runner, reading output where a run of the job would,
// and attaching stdin with -i.
func (o *Options) runner(ctx context.Context, s *stackjobs.Session, job jobs.Job) (*jobs.Runner, error) {
	r, err := s.Runners().For(ctx, job)
	if err != nil {
		return nil, err
	}
	if o.Interactive {
		a := &jobs.AttachSource{Source: r.Logs, Engine: s.Engine, In: s.IO.In, After: s.After}
		if o.TTY {
			a.Terminal = s.IO.InTerminal
		}
		r.Logs = a
	}
	return r, nil
}

// terminalReporter leaves the terminal to the command while its container
// exists: a progress line ("running") would land in the middle of its
// screen. How the attempt ended is still said.
type terminalReporter struct{ jobs.Reporter }

func (r terminalReporter) Attempt(job string, a jobs.Attempt, maxRuns int) {
	if a.ContainerID == "" || a.Done() {
		r.Reporter.Attempt(job, a, maxRuns)
	}
}

// crlf ends jobrun's own lines with \r\n: the terminal is in raw mode
// while an interactive exec runs.
type crlf struct{ w io.Writer }

func (c crlf) Write(p []byte) (int, error) {
	if _, err := c.w.Write([]byte(strings.ReplaceAll(string(p), "\n", "\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
