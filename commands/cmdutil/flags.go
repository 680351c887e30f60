package cmdutil

import (
	"fmt"
	"regexp"
	"time"

	"github.com/urfave/cli/v2"

	"jobrun/jobs"
	"jobrun/logs"
)

// Common are the flags of every command that reads a stack's jobs.
type Common struct {
	Stack string
	// DockerContext is --context: a docker context by name, which wins
	// over DOCKER_HOST as docker --context does ("": the CLI's choice).
	DockerContext  string
	ConnectTimeout time.Duration
}

// CommonFlags are --stack, --context and --connect-timeout.
func CommonFlags(c *Common) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "stack", EnvVars: []string{"JOBRUN_STACK"}, Destination: &c.Stack, Usage: "the deployed stack's name (as in docker stack deploy ... NAME)"},
		&cli.StringFlag{Name: "context", EnvVars: []string{"JOBRUN_CONTEXT"}, Destination: &c.DockerContext, Usage: "the docker context to reach the engine through (docker context ls), over DOCKER_HOST, DOCKER_CONTEXT and docker context use, as docker --context"},
		&cli.DurationFlag{Name: "connect-timeout", Value: 10 * time.Second, EnvVars: []string{"JOBRUN_CONNECT_TIMEOUT"}, Destination: &c.ConnectTimeout, Usage: "how long to try reaching the engine at start"},
	}
}

// Check says what is wrong with the common flags.
func (c Common) Check() error {
	switch {
	case c.Stack == "":
		return &jobs.UsageError{Msg: "--stack is required: the name the stack was deployed with (docker stack deploy -c stack.yml NAME), or set JOBRUN_STACK"}
	case !jobs.ValidName(c.Stack):
		return &jobs.UsageError{Msg: fmt.Sprintf("--stack %q is not a valid stack name: use letters, digits, '-' and '_'", c.Stack)}
	}
	return nil
}

// EngineWaitFlag is --engine-wait: how long a job (of a run, a deploy or an
// exec) rides out an engine that does not answer (a restart, a swarm
// without a leader) before jobrun gives up on it; the job itself runs on
// meanwhile. A deploy's wait for its services does not ride one out.
func EngineWaitFlag(dest *time.Duration) cli.Flag {
	return &cli.DurationFlag{Name: "engine-wait", Value: 2 * time.Minute, EnvVars: []string{"JOBRUN_ENGINE_WAIT"}, Destination: dest, Usage: "how long the engine may be out of reach or without a leader before jobrun gives up on a job (the job runs on)"}
}

// OutputFlag is -o/--output: text or json.
func OutputFlag(dest *string) cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", EnvVars: []string{"JOBRUN_OUTPUT"}, Destination: dest, Usage: "text, or json: the records on stdout, progress and output on stderr"}
}

// CheckOutput says what is wrong with --output.
func CheckOutput(output string) error {
	if output != "text" && output != "json" {
		return &jobs.UsageError{Msg: fmt.Sprintf("--output %q is unknown: use text or json", output)}
	}
	return nil
}

// LogFlags say where a job's output is read from.
func LogFlags(o *jobs.LogOptions) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "logs", Value: "auto", EnvVars: []string{"JOBRUN_LOGS"}, Destination: &o.Mode, Usage: "where output comes from: auto (CloudWatch when the job logs with awslogs), cloudwatch or docker"},
		&cli.StringFlag{Name: "log-group", Value: "docker-swarm-lg", EnvVars: []string{"JOBRUN_LOG_GROUP"}, Destination: &o.Group, Usage: "CloudWatch log group, when the job's logging options name none"},
		&cli.StringFlag{Name: "log-stream-template", Value: logs.DefaultStreamTemplate, EnvVars: []string{"JOBRUN_LOG_STREAM_TEMPLATE"}, Destination: &o.StreamTemplate, Usage: "the awslogs tag the engine uses, when the job's logging options set none (\"\" = the container ID)"},
		&cli.StringFlag{Name: "region", EnvVars: []string{"JOBRUN_REGION"}, Destination: &o.Region, DefaultText: "awslogs-region, else the AWS SDK's", Usage: "AWS region of the log group"},
		&cli.StringFlag{Name: "profile", EnvVars: []string{"JOBRUN_PROFILE"}, Destination: &o.Profile, Usage: "AWS shared-config profile"},
		&cli.DurationFlag{Name: "flush-wait", Value: 5 * time.Second, EnvVars: []string{"JOBRUN_FLUSH_WAIT"}, Destination: &o.FlushWait, Usage: "an ended attempt's CloudWatch stream is complete once quiet this long (the driver's flush interval)"},
		&cli.DurationFlag{Name: "drain-timeout", Value: 30 * time.Second, EnvVars: []string{"JOBRUN_DRAIN_TIMEOUT"}, Destination: &o.DrainTimeout, Usage: "give up waiting for an ended attempt's last lines after this long, and say so"},
	}
}

// CheckLogs says what is wrong with the log flags, and sets how often a
// live CloudWatch stream is read.
func CheckLogs(o *jobs.LogOptions) error {
	switch {
	case o.Mode != "auto" && o.Mode != "docker" && o.Mode != "cloudwatch":
		return &jobs.UsageError{Msg: fmt.Sprintf("--logs %q is unknown: use auto, cloudwatch or docker", o.Mode)}
	case o.FlushWait < 0 || o.DrainTimeout <= 0:
		return &jobs.UsageError{Msg: "--flush-wait and --drain-timeout must be positive durations, e.g. 5s and 30s"}
	}
	o.Poll = time.Second
	return nil
}

var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ResolveVersion is the version to run: the flag (or APP_VERSION), else the
// git checkout's short HEAD, as the team's Makefile does.
func ResolveVersion(v string, git func() (string, error)) (string, error) {
	if v == "" {
		head, err := git()
		if err != nil {
			return "", &jobs.UsageError{Msg: "no version to run: pass --version, set APP_VERSION, or run inside the app's git checkout"}
		}
		v = head
	}
	if !tagPattern.MatchString(v) {
		return "", &jobs.UsageError{Msg: fmt.Sprintf("version %q is not a valid image tag: use letters, digits, '_', '.' and '-' (128 at most)", v)}
	}
	return v, nil
}

// KeepRunsFlag is --keep-runs: how many runs of each job keep their records.
func KeepRunsFlag(dest *int) cli.Flag {
	return &cli.IntFlag{Name: "keep-runs", Value: jobs.DefaultKeep, EnvVars: []string{"JOBRUN_KEEP_RUNS"}, Destination: dest,
		Usage: "keep the records of each job's newest N runs (and the newest success of each version among them); older ones are pruned"}
}

// KeepRunsError says what is wrong with --keep-runs N.
func KeepRunsError(n int) error {
	return &jobs.UsageError{Msg: fmt.Sprintf("--keep-runs %d must be at least 1: the newest runs are always kept (default %d)", n, jobs.DefaultKeep)}
}

// AliasComposeFileFlag is -c on the commands that read records, not the
// stack file: a shell alias such as `alias jr='jobrun -c stack.yml --stack
// todo'` puts it before every command, as every earlier release accepted.
func AliasComposeFileFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "compose-file", Aliases: []string{"c"}, Hidden: true, Usage: "accepted, and not needed: this command reads the swarm's records, not the stack file"}
}

// PlanTimeoutFlag is --plan-timeout: how long a job's x-jobrun plan may
// run before it is stopped, and said as a WARNING.
func PlanTimeoutFlag(dest *time.Duration) cli.Flag {
	return &cli.DurationFlag{Name: "plan-timeout", Value: 2 * time.Minute, EnvVars: []string{"JOBRUN_PLAN_TIMEOUT"}, Destination: dest,
		Usage: "stop a job's x-jobrun plan after this long (a WARNING: the preview goes on)"}
}

// CheckPlanTimeout says what is wrong with --plan-timeout.
func CheckPlanTimeout(d time.Duration) error {
	if d <= 0 {
		return &jobs.UsageError{Msg: fmt.Sprintf("--plan-timeout %s must be positive: use e.g. 2m", d)}
	}
	return nil
}
