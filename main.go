// Command jobrun runs a stack file's one-shot jobs (a database migrate, a
// collectstatic) on a Docker Swarm cluster, waits for them and shows their
// output.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
	"github.com/moby/term"
	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"

	"jobrun/jobs"
	"jobrun/logs"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// The first Ctrl-C or SIGTERM cancels the run, which stops the job and
	// cleans up (seconds); a second one exits at once.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	// A closed stdout (`jobrun migrate | head`) must not kill jobrun mid-run
	// and orphan the job: writes fail instead, and the reporter copes.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	app := newApp(stdout, stderr)
	go func() {
		sig := <-signals
		fmt.Fprintf(stderr, "jobrun: %v: stopping (once more to exit at once)\n", sig)
		cancel()
		<-signals
		fmt.Fprintf(stderr, "jobrun: interrupted twice: exiting without cleaning up; the job may still be running: docker service ls --filter label=%s\n", jobs.LabelJob)
		os.Exit(jobs.ExitInterrupted)
	}()
	err := app.RunContext(ctx, permute(args, app.Flags, func(name string) bool { return app.Command(name) != nil }))
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var silent interface{ Silent() bool }
	if !errors.As(err, &silent) || !silent.Silent() {
		fmt.Fprintln(stderr, "jobrun: "+redact(err.Error()))
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	if errors.Is(err, context.Canceled) {
		return jobs.ExitInterrupted
	}
	return jobs.ExitUsage // urfave/cli's own flag and argument errors
}

// usageError turns urfave/cli's flag errors into one line that names the
// fix, instead of its error followed by the whole help text.
func usageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		if s := cli.SuggestFlag(c.App.Flags, strings.TrimLeft(name, "-"), true); s != "" && similar(strings.TrimLeft(name, "-"), strings.TrimLeft(s, "-")) {
			msg += fmt.Sprintf(": did you mean %s?", s)
		}
	}
	return &jobs.UsageError{Msg: msg + " (jobrun --help lists the flags)"}
}

// closestCommand is the command a mistyped word most looks like, or "".
func closestCommand(app *cli.App, word string) string {
	best := ""
	for _, c := range app.Commands {
		if c.Name == word {
			return ""
		}
		if similar(word, c.Name) {
			best = c.Name
		}
	}
	return best
}

func similar(a, b string) bool { return smetrics.JaroWinkler(a, b, 0.7, 4) >= 0.85 }

// redact hides a password in a URL such as tcp://user:pass@host.
func redact(s string) string {
	return regexp.MustCompile(`(://[^:/@\s]+):[^@/\s]+@`).ReplaceAllString(s, "$1:***@")
}

type globalFlags struct {
	files             []string
	stack, version    string
	output, logSource string
	timeout, pending  time.Duration
	connectTimeout    time.Duration
	keep, force       bool
	detach, parallel  bool
	legacy            bool
	maxAttempts       int
	restartDelay      string
	logGroup          string
	streamTemplate    string
	region, profile   string
	flushWait, drain  time.Duration
	attempt           int
	follow            bool
	resolveImage      string
}

func newApp(stdout, stderr io.Writer) *cli.App {
	var g globalFlags
	app := &cli.App{
		Name:           "jobrun",
		Usage:          "run a stack file's one-shot jobs on Docker Swarm, wait for them, show their output",
		UsageText:      "jobrun [flags] JOB [JOB...]\n   jobrun run JOB [JOB...] [flags]\n   jobrun history [JOB]\n   jobrun version",
		HideVersion:    true, // --version is the job's version; `jobrun version` is ours
		Suggest:        true,
		Writer:         stdout,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {}, // exit codes are mapped once, in run
		OnUsageError:   usageError,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "compose-file", Aliases: []string{"c"}, Value: cli.NewStringSlice("stack.yml"), EnvVars: []string{"JOBRUN_COMPOSE_FILE"}, Usage: "stack file(s), merged in order as docker stack deploy -c does"},
			&cli.StringFlag{Name: "stack", EnvVars: []string{"JOBRUN_STACK"}, Destination: &g.stack, Usage: "the deployed stack's name (as in docker stack deploy ... NAME)"},
			&cli.StringFlag{Name: "version", EnvVars: []string{"JOBRUN_VERSION", "APP_VERSION"}, Destination: &g.version, Usage: "the version to run: sets APP_VERSION for the stack file (default: git rev-parse --short HEAD)"},
			&cli.DurationFlag{Name: "timeout", Value: time.Hour, EnvVars: []string{"JOBRUN_TIMEOUT"}, Destination: &g.timeout, Usage: "stop the job and fail after this long"},
			&cli.DurationFlag{Name: "pending-timeout", Value: 2 * time.Minute, EnvVars: []string{"JOBRUN_PENDING_TIMEOUT"}, Destination: &g.pending, Usage: "fail when no node takes a task for this long"},
			&cli.DurationFlag{Name: "connect-timeout", Value: 10 * time.Second, EnvVars: []string{"JOBRUN_CONNECT_TIMEOUT"}, Destination: &g.connectTimeout, Usage: "how long to try reaching the engine at start"},
			&cli.IntFlag{Name: "max-attempts", Value: -1, EnvVars: []string{"JOBRUN_MAX_ATTEMPTS"}, Destination: &g.maxAttempts, DefaultText: "the stack file's, else 6", Usage: "restarts after a failure, as Swarm's max_attempts (runs = this + 1)"},
			&cli.StringFlag{Name: "restart-delay", EnvVars: []string{"JOBRUN_RESTART_DELAY"}, Destination: &g.restartDelay, DefaultText: "the stack file's, else 30s", Usage: "wait between attempts"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", EnvVars: []string{"JOBRUN_OUTPUT"}, Destination: &g.output, Usage: "text, or json: the run records on stdout, progress and output on stderr"},
			&cli.StringFlag{Name: "logs", Value: "auto", EnvVars: []string{"JOBRUN_LOGS"}, Destination: &g.logSource, Usage: "where output comes from: auto (CloudWatch when the job logs with awslogs), cloudwatch or docker"},
			&cli.StringFlag{Name: "log-group", Value: "docker-swarm-lg", EnvVars: []string{"JOBRUN_LOG_GROUP"}, Destination: &g.logGroup, Usage: "CloudWatch log group, when the job's logging options name none"},
			&cli.StringFlag{Name: "log-stream-template", Value: logs.DefaultStreamTemplate, EnvVars: []string{"JOBRUN_LOG_STREAM_TEMPLATE"}, Destination: &g.streamTemplate, Usage: "the awslogs tag the engine uses, when the job's logging options set none (\"\" = the container ID)"},
			&cli.StringFlag{Name: "region", EnvVars: []string{"JOBRUN_REGION"}, Destination: &g.region, DefaultText: "awslogs-region, else the AWS SDK's", Usage: "AWS region of the log group"},
			&cli.StringFlag{Name: "profile", EnvVars: []string{"JOBRUN_PROFILE"}, Destination: &g.profile, Usage: "AWS shared-config profile"},
			&cli.DurationFlag{Name: "flush-wait", Value: 5 * time.Second, EnvVars: []string{"JOBRUN_FLUSH_WAIT"}, Destination: &g.flushWait, Usage: "an ended attempt's CloudWatch stream is complete once quiet this long (the driver's flush interval)"},
			&cli.DurationFlag{Name: "drain-timeout", Value: 30 * time.Second, EnvVars: []string{"JOBRUN_DRAIN_TIMEOUT"}, Destination: &g.drain, Usage: "give up waiting for an ended attempt's last lines after this long, and say so"},
			&cli.StringFlag{Name: "resolve-image", Value: "always", EnvVars: []string{"JOBRUN_RESOLVE_IMAGE"}, Destination: &g.resolveImage, Usage: "pin the image to its registry digest, as docker stack deploy --resolve-image: always, changed or never"},
			&cli.BoolFlag{Name: "keep", EnvVars: []string{"JOBRUN_KEEP"}, Destination: &g.keep, Usage: "leave the job service in place when it ends"},
			&cli.BoolFlag{Name: "force", EnvVars: []string{"JOBRUN_FORCE"}, Destination: &g.force, Usage: "run even if this version already succeeded"},
			&cli.BoolFlag{Name: "detach-on-interrupt", EnvVars: []string{"JOBRUN_DETACH_ON_INTERRUPT"}, Destination: &g.detach, Usage: "on Ctrl-C leave the job running instead of stopping it"},
			&cli.BoolFlag{Name: "parallel", EnvVars: []string{"JOBRUN_PARALLEL"}, Destination: &g.parallel, Usage: "run several jobs at once instead of in order"},
			&cli.IntFlag{Name: "attempt", EnvVars: []string{"JOBRUN_ATTEMPT"}, Destination: &g.attempt, DefaultText: "all", Usage: "jobrun logs: only this attempt"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, EnvVars: []string{"JOBRUN_FOLLOW"}, Destination: &g.follow, Usage: "jobrun logs: follow the run in progress"},
			&cli.BoolFlag{Name: "legacy-mode", EnvVars: []string{"JOBRUN_LEGACY_MODE"}, Destination: &g.legacy, Hidden: true, Usage: "run as a replicas:1 service, as on engines older than API 1.41"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 && c.NumFlags() == 0 {
				return cli.ShowAppHelp(c)
			}
			if c.NArg() == 0 {
				// Flags but no job, e.g. `jobrun --version $EMPTY migrate`:
				// never exit 0 for a job that did not run.
				return &jobs.UsageError{Msg: "no job named: jobrun [flags] JOB [JOB...]"}
			}
			err := runJobs(c, &g, c.Args().Slice())
			var usage *jobs.UsageError
			if cmd := closestCommand(c.App, c.Args().First()); cmd != "" && errors.As(err, &usage) {
				usage.Msg = fmt.Sprintf("unknown command %q: did you mean jobrun %s? (as a job: %s)", c.Args().First(), cmd, usage.Msg)
			}
			return err
		},
		Commands: []*cli.Command{
			{
				Name: "run", Usage: "run jobs (the default command)", ArgsUsage: "JOB [JOB...]",
				Action: func(c *cli.Context) error {
					if c.NArg() == 0 {
						return &jobs.UsageError{Msg: "name a job to run, e.g. jobrun run migrate"}
					}
					return runJobs(c, &g, c.Args().Slice())
				},
			},
			{
				Name: "history", Usage: "list recorded runs", ArgsUsage: "[JOB]",
				Action: func(c *cli.Context) error { return history(c, &g) },
			},
			{
				Name: "logs", Usage: "show a run's output, attempt by attempt (the newest run, or --version's)", ArgsUsage: "JOB",
				Action: func(c *cli.Context) error { return showLogs(c, &g) },
			},
			{
				Name: "version", Usage: "print jobrun's version",
				Action: func(c *cli.Context) error {
					_, err := fmt.Fprintf(stdout, "jobrun %s\n", version)
					return err
				},
			},
		},
	}
	return app
}

func runJobs(c *cli.Context, g *globalFlags, names []string) error {
	if err := checkCommon(g); err != nil {
		return err
	}
	ver, err := resolveVersion(g.version)
	if err != nil {
		return err
	}
	spec := jobs.SpecOptions{PendingTimeout: g.pending}
	if g.maxAttempts >= 0 {
		n := uint64(g.maxAttempts)
		spec.MaxAttempts = &n
	}
	if g.restartDelay != "" {
		d, err := time.ParseDuration(g.restartDelay)
		if err != nil || d < 0 {
			return &jobs.UsageError{Msg: fmt.Sprintf("--restart-delay %q is not a duration: use e.g. 30s or 1m", g.restartDelay)}
		}
		spec.RestartDelay = &d
	}
	var engine *client.Client
	defer func() {
		if engine != nil {
			engine.Close()
		}
	}()
	env := environ()
	env["APP_VERSION"] = ver
	cmd := &jobs.RunCommand{
		IO: streams(c),
		Connect: func(ctx context.Context) (client.APIClient, string, error) {
			e, info, err := connect(ctx, g.connectTimeout)
			engine = e
			return e, info.LoggingDriver, err
		},
		Files:    c.StringSlice("compose-file"),
		Stack:    g.stack,
		Env:      env,
		Jobs:     names,
		Version:  ver,
		JSON:     g.output == "json",
		Parallel: g.parallel,
		Legacy:   g.legacy,
		Spec:     spec,
		Run: jobs.RunOptions{
			Timeout: g.timeout, Keep: g.keep, Force: g.force, DetachOnInterrupt: g.detach,
			// A job service is always new, so "changed" resolves as "always" does.
			QueryRegistry: g.resolveImage != "never",
		},
		Logs: logOptions(g),
		Auth: registryAuth,
		Now:  time.Now, After: time.After,
	}
	return cmd.Execute(c.Context)
}

func history(c *cli.Context, g *globalFlags) error {
	if err := checkCommon(g); err != nil {
		return err
	}
	engine, _, err := connect(c.Context, g.connectTimeout)
	if err != nil {
		return err
	}
	defer engine.Close()
	cmd := &jobs.HistoryCommand{IO: streams(c), Records: jobs.Records{Engine: engine}, Stack: g.stack, Job: c.Args().First(), JSON: g.output == "json"}
	return cmd.Execute(c.Context)
}

func showLogs(c *cli.Context, g *globalFlags) error {
	if err := checkCommon(g); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return &jobs.UsageError{Msg: "name one job: jobrun logs JOB [--version V] [--attempt N] [--follow]"}
	}
	engine, info, err := connect(c.Context, g.connectTimeout)
	if err != nil {
		return err
	}
	defer engine.Close()
	cmd := &jobs.LogsCommand{
		IO: streams(c), Engine: engine, Stack: g.stack, Job: c.Args().First(), Version: g.version,
		Attempt: g.attempt, Follow: g.follow, Logs: logOptions(g), Now: time.Now, After: time.After,
	}
	cmd.Logs.DefaultDriver = info.LoggingDriver
	return cmd.Execute(c.Context)
}

func logOptions(g *globalFlags) jobs.LogOptions {
	return jobs.LogOptions{
		Mode: g.logSource, Group: g.logGroup, StreamTemplate: g.streamTemplate, Region: g.region, Profile: g.profile,
		FlushWait: g.flushWait, DrainTimeout: g.drain, Poll: time.Second,
	}
}

func streams(c *cli.Context) jobs.IO {
	io := jobs.IO{Out: c.App.Writer, Err: c.App.ErrWriter}
	if f, ok := c.App.Writer.(*os.File); ok {
		io.OutIsTerminal = term.IsTerminal(f.Fd())
	}
	return io
}

func checkCommon(g *globalFlags) error {
	switch {
	case g.stack == "":
		return &jobs.UsageError{Msg: "--stack is required: the name the stack was deployed with (docker stack deploy -c stack.yml NAME), or set JOBRUN_STACK"}
	case !jobs.ValidName(g.stack):
		return &jobs.UsageError{Msg: fmt.Sprintf("--stack %q is not a valid stack name: use letters, digits, '-' and '_'", g.stack)}
	case g.output != "text" && g.output != "json":
		return &jobs.UsageError{Msg: fmt.Sprintf("--output %q is unknown: use text or json", g.output)}
	case g.logSource != "auto" && g.logSource != "docker" && g.logSource != "cloudwatch":
		return &jobs.UsageError{Msg: fmt.Sprintf("--logs %q is unknown: use auto, cloudwatch or docker", g.logSource)}
	case g.resolveImage != "always" && g.resolveImage != "changed" && g.resolveImage != "never":
		return &jobs.UsageError{Msg: fmt.Sprintf("--resolve-image %q is unknown: use always, changed or never", g.resolveImage)}
	case g.flushWait < 0 || g.drain <= 0:
		return &jobs.UsageError{Msg: "--flush-wait and --drain-timeout must be positive durations, e.g. 5s and 30s"}
	case g.timeout <= 0:
		return &jobs.UsageError{Msg: fmt.Sprintf("--timeout %s must be positive: use e.g. 30m", g.timeout)}
	case g.pending <= 0:
		return &jobs.UsageError{Msg: fmt.Sprintf("--pending-timeout %s must be positive: use e.g. 2m", g.pending)}
	}
	return nil
}

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// resolveVersion: the flag (or APP_VERSION), else the git checkout's short
// HEAD, as the team's Makefile does.
func resolveVersion(v string) (string, error) {
	if v == "" {
		out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
		if err != nil {
			return "", &jobs.UsageError{Msg: "no version to run: pass --version, set APP_VERSION, or run inside the app's git checkout"}
		}
		v = strings.TrimSpace(string(out))
	}
	if !tagPattern.MatchString(v) {
		return "", &jobs.UsageError{Msg: fmt.Sprintf("version %q is not a valid image tag: use letters, digits, '_', '.' and '-' (128 at most)", v)}
	}
	return v, nil
}

func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env[k] = v
		}
	}
	return env
}

// connect reaches the engine the way the docker CLI does (DOCKER_HOST,
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, ssh://) and checks it is a swarm
// manager.
func connect(ctx context.Context, timeout time.Duration) (*client.Client, system.Info, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	host := os.Getenv("DOCKER_HOST")
	if scheme, _, _ := strings.Cut(host, "://"); host != "" && !map[string]bool{"unix": true, "tcp": true, "ssh": true, "npipe": true, "http": true, "https": true}[scheme] {
		return nil, system.Info{}, &jobs.UsageError{Msg: fmt.Sprintf("DOCKER_HOST %q is not valid: use unix:///path, tcp://host:port or ssh://user@host", redact(host))}
	}
	if host != "" {
		helper, err := connhelper.GetConnectionHelper(host)
		if err != nil {
			return nil, system.Info{}, &jobs.UsageError{Msg: fmt.Sprintf("DOCKER_HOST %q is not valid (%v): use unix:///path, tcp://host:port or ssh://user@host", redact(host), err)}
		}
		if helper != nil {
			opts = append(opts, client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
		}
	}
	engine, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, system.Info{}, &jobs.UsageError{Msg: fmt.Sprintf("DOCKER_HOST %q is not valid: %s: use unix:///path, tcp://host:port or ssh://user@host", redact(host), redact(err.Error()))}
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := engine.Info(cctx)
	if err != nil {
		engine.Close()
		if ctx.Err() != nil {
			return nil, system.Info{}, ctx.Err()
		}
		return nil, system.Info{}, &jobs.EngineError{Msg: fmt.Sprintf("cannot reach the Docker engine at %s within %s: start it, or point DOCKER_HOST at a swarm manager", redact(engine.DaemonHost()), timeout)}
	}
	switch {
	case info.Swarm.LocalNodeState != "active":
		engine.Close()
		return nil, system.Info{}, &jobs.EngineError{Msg: fmt.Sprintf("the engine at %s is not in swarm mode: run docker swarm init, or point DOCKER_HOST at a swarm manager", redact(engine.DaemonHost()))}
	case !info.Swarm.ControlAvailable:
		engine.Close()
		return nil, system.Info{}, &jobs.EngineError{Msg: fmt.Sprintf("the engine at %s is a swarm worker: point DOCKER_HOST at a manager (docker node ls there lists them; managers are marked Leader or Reachable)", redact(engine.DaemonHost()))}
	}
	return engine, info, nil
}

// registryAuth is what `docker stack deploy --with-registry-auth` sends:
// the credentials for the image's registry from ~/.docker/config.json and
// its credential helpers. Without any, the engine pulls anonymously.
func registryAuth(image string) string {
	cfg := config.LoadDefaultConfigFile(io.Discard)
	auth, err := command.RetrieveAuthTokenFromImage(cfg, image)
	if err != nil {
		return ""
	}
	return auth
}
