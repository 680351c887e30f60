// Package logs is `jobrun logs JOB`: a recorded run's output, attempt by
// attempt, after its service is gone; with --follow, the run in progress.
package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
	"jobrun/logs"
)

// Options are jobrun logs' flags and argument.
type Options struct {
	cmdutil.Common
	Job     string
	Version string // "" = the newest run
	Attempt int    // 0 = every attempt
	Follow  bool
	Exec    bool   // the newest jobrun exec of the job, not its newest run
	Run     string // this recorded run (its ID), and the nodes of its attempts
	Logs    jobs.LogOptions
}

// NewCommand is `jobrun logs`.
func NewCommand(f *cmdutil.Factory) *cli.Command {
	o := &Options{}
	flags := []cli.Flag{
		&cli.StringFlag{Name: "version", EnvVars: []string{"JOBRUN_VERSION", "APP_VERSION"}, Destination: &o.Version, DefaultText: "the newest run", Usage: "show the newest run of this version"},
		&cli.IntFlag{Name: "attempt", EnvVars: []string{"JOBRUN_ATTEMPT"}, Destination: &o.Attempt, DefaultText: "all", Usage: "only this attempt"},
		&cli.BoolFlag{Name: "exec", EnvVars: []string{"JOBRUN_LOGS_EXEC"}, Destination: &o.Exec, Usage: "show the newest jobrun exec of the job (its command's output) instead of its newest run"},
		// No environment: JOBRUN_RUN_ID left set would pin every jobrun logs.
		&cli.StringFlag{Name: "run", Destination: &o.Run, Usage: "show this recorded run (its ID, from jobrun history) and the nodes its attempts ran on; JOB may be left out"},
		&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, EnvVars: []string{"JOBRUN_FOLLOW"}, Destination: &o.Follow, Usage: "follow the run in progress, if there is one"},
	}
	flags = append(flags, cmdutil.CommonFlags(&o.Common)...)
	flags = append(flags, cmdutil.AliasComposeFileFlag())
	return &cli.Command{
		Name: "logs", Usage: "show a run's output, attempt by attempt (the newest run, --version's, or --run's)", ArgsUsage: "JOB | [JOB] --run RUN_ID",
		Flags: append(flags, cmdutil.LogFlags(&o.Logs)...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 || c.NArg() == 0 && o.Run == "" {
				return &jobs.UsageError{Msg: "name one job: jobrun logs JOB [--version V] [--attempt N] [--follow], or a run: jobrun logs --run RUN_ID"}
			}
			o.Job = c.Args().First()
			return Run(c.Context, f, o)
		},
	}
}

// Run prints the run's attempts and their output, then its verdict; its
// error carries the run's exit code.
func Run(ctx context.Context, f *cmdutil.Factory, o *Options) error {
	if err := o.Common.Check(); err != nil {
		return err
	}
	if err := cmdutil.CheckLogs(&o.Logs); err != nil {
		return err
	}
	if o.Run != "" && o.Follow {
		return &jobs.UsageError{Msg: "--run shows a recorded run and --follow the job's run in progress: drop one"}
	}
	engine, info, err := f.Connect(ctx, o.Common)
	if err != nil {
		return err
	}
	defer engine.Close()
	o.Logs.DefaultDriver = info.LoggingDriver
	if o.Follow {
		if followed, err := followRunning(ctx, f, o, engine); followed || err != nil {
			return err
		}
	}
	rec, err := find(ctx, engine, o)
	if err != nil {
		return err
	}
	if o.Attempt < 0 || o.Attempt > len(rec.Attempts) {
		return &jobs.UsageError{Msg: fmt.Sprintf("--attempt %d is out of range: run %s of %s had %d attempt(s)", o.Attempt, rec.RunID, rec.Job, len(rec.Attempts))}
	}
	read, err := reader(ctx, f, o, engine, rec)
	if err != nil {
		return err
	}
	report := &jobs.TextReporter{Out: f.IO.Out, Err: f.IO.Err, Log: f.IO.Err}
	for _, a := range rec.Attempts {
		if o.Attempt != 0 && a.Number != o.Attempt {
			continue
		}
		report.Attempt(rec.Job, a, rec.MaxRuns)
		if err := read(a); err != nil {
			return err
		}
	}
	report.Done(rec)
	if o.Run != "" {
		nodes(ctx, engine, f.IO.Err, rec)
	}
	if rec.Outcome != jobs.Succeeded {
		return &jobs.VerdictError{Outcome: rec.Outcome}
	}
	return nil
}

// find is the run to show: --run's, else the newest of the job (of
// --version's, or its newest exec).
func find(ctx context.Context, engine client.APIClient, o *Options) (jobs.Record, error) {
	filter := jobs.RecordFilter{Stack: o.Stack, Job: o.Job, Version: o.Version, Kind: jobs.KindRuns}
	switch {
	case o.Run != "":
		filter = jobs.RecordFilter{Stack: o.Stack, Job: o.Job, RunID: o.Run}
	case o.Exec:
		filter.Kind = jobs.KindExecs
	}
	newest, err := jobs.Records{Engine: engine}.Find(ctx, filter, 1)
	if err != nil {
		return jobs.Record{}, &jobs.EngineError{Msg: "read run records", Err: err}
	}
	if len(newest) == 1 {
		return newest[0], nil
	}
	what := o.Job
	if o.Version != "" {
		what += " version " + o.Version
	}
	switch {
	case o.Run != "":
		return jobs.Record{}, &jobs.UsageError{Msg: fmt.Sprintf("stack %s has no recorded run %s: check the run ID (and the job) with jobrun history", o.Stack, o.Run)}
	case o.Exec:
		return jobs.Record{}, &jobs.UsageError{Msg: fmt.Sprintf("%s has no recorded exec in stack %s: check the name with jobrun history", what, o.Stack)}
	}
	return jobs.Record{}, &jobs.UsageError{Msg: fmt.Sprintf("%s has no recorded run in stack %s: run it first (jobrun %s), or check the name with jobrun history", what, o.Stack, o.Job)}
}

// nodes says where each attempt of rec ran, by hostname and ID, and
// whether a replay can run there now, then how to replay one.
func nodes(ctx context.Context, engine client.APIClient, w io.Writer, rec jobs.Record) {
	jobs.NameNodes(ctx, engine, rec.Attempts) // a record from before hostnames were kept
	for _, a := range rec.Attempts {
		if a.NodeID == "" {
			fmt.Fprintf(w, "jobrun: %s: attempt %d was never placed on a node\n", rec.Job, a.Number)
			continue
		}
		node := a.NodeID // the whole ID: docker node inspect takes it
		if a.Hostname != "" {
			node = a.Hostname + " (" + a.NodeID + ")"
		}
		fmt.Fprintf(w, "jobrun: %s: attempt %d ran on node %s: %s\n", rec.Job, a.Number, node, nodeState(ctx, engine, rec, a))
	}
	switch {
	case rec.Exec != nil:
	case rec.Spec == "":
		fmt.Fprintf(w, "jobrun: %s: run %s was recorded without its service spec (by a jobrun from before replays): its attempts cannot be replayed\n", rec.Job, rec.RunID)
	default:
		fmt.Fprintf(w, "jobrun: %s: replay an attempt on its node: jobrun exec %s --run %s --attempt N [-it] [-- CMD ...]\n", rec.Job, rec.Job, rec.RunID)
	}
}

// nodeState says whether Swarm may place a replay of attempt a on its node.
func nodeState(ctx context.Context, engine client.APIClient, rec jobs.Record, a jobs.Attempt) string {
	res, err := engine.NodeInspect(ctx, a.NodeID, client.NodeInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return "it has left the swarm"
	case err != nil:
		return "cannot inspect it: " + jobs.Message(err)
	}
	if why := jobs.MayNotRunOn(jobs.Job{Name: rec.Job}, res.Node); why != "" {
		return why
	}
	return "it is ready and takes tasks"
}

// reader returns how to print one attempt of the recorded run: from the
// output kept with the record, or from its CloudWatch stream.
func reader(ctx context.Context, f *cmdutil.Factory, o *Options, engine client.APIClient, rec jobs.Record) (func(jobs.Attempt) error, error) {
	if rec.LogSource != "cloudwatch" {
		outputs, err := jobs.Records{Engine: engine}.Outputs(ctx, rec.RunID)
		if err != nil {
			return nil, &jobs.EngineError{Msg: "read stored output", Err: err}
		}
		return func(a jobs.Attempt) error {
			for _, out := range outputs {
				if out.Number == a.Number {
					if out.Truncated {
						fmt.Fprintf(f.IO.Err, "jobrun: %s: attempt %d: only the last %d KiB of its output was kept\n", rec.Job, a.Number, len(out.Output)>>10)
					}
					if _, err := f.IO.Out.Write(out.Output); err != nil {
						return &jobs.OutputError{Err: err}
					}
					return nil
				}
			}
			if a.Started() {
				fmt.Fprintf(f.IO.Err, "jobrun: %s: attempt %d: no output was kept\n", rec.Job, a.Number)
			}
			return nil
		}, nil
	}
	region := rec.LogRegion
	if region == "" {
		region = o.Logs.Region
	}
	cwClient, _, err := logs.NewCloudWatchClient(ctx, logs.AWSOptions{Region: region, Profile: o.Logs.Profile, Endpoint: rec.LogEndpoint})
	if err != nil {
		return nil, &jobs.CloudWatchError{Msg: fmt.Sprintf("read %s's output from CloudWatch Logs", rec.Job), Err: err}
	}
	cw := &logs.CloudWatch{Client: cwClient, Group: rec.LogGroup, Limiter: logs.NewQuotaLimiter(), Now: f.Now, After: f.After,
		Stalled: func(stream string, err error) {
			fmt.Fprintf(f.IO.Err, "jobrun: %s: %s; giving up after --drain-timeout %s\n", rec.Job, jobs.WaitingForCloudWatch(rec.LogGroup, stream, err), o.Logs.DrainTimeout)
		}}
	return func(a jobs.Attempt) error {
		if a.LogStream == "" {
			return nil // never started a container: nothing was printed
		}
		return readStream(ctx, cw, rec, a, o.Logs.DrainTimeout, f.IO)
	}, nil
}

// readStream prints an attempt's CloudWatch stream, giving up after bound:
// a recorded run's stream is complete, so a read that takes longer is
// CloudWatch not answering.
func readStream(ctx context.Context, cw *logs.CloudWatch, rec jobs.Record, a jobs.Attempt, bound time.Duration, streams cmdutil.IO) error {
	readCtx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	_, err := cw.Read(readCtx, a.LogStream, a.Order, streams.Out)
	var werr *logs.WriteError
	switch {
	case err == nil:
		return nil
	case logs.IsNotFound(err):
		fmt.Fprintf(streams.Err, "jobrun: %s: attempt %d: its output is no longer in CloudWatch (stream %s in group %s): it was deleted, or the run is older than the log group's retention\n", rec.Job, a.Number, a.LogStream, rec.LogGroup)
		return nil
	case errors.As(err, &werr):
		return &jobs.OutputError{Err: werr.Err}
	case ctx.Err() != nil:
		return ctx.Err()
	case readCtx.Err() != nil:
		return &jobs.CloudWatchError{Msg: fmt.Sprintf("%s: attempt %d's output: CloudWatch Logs did not answer within --drain-timeout %s (stream %s/%s): check AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, the network and the credentials, or raise --drain-timeout", rec.Job, a.Number, bound, rec.LogGroup, a.LogStream)}
	}
	return &jobs.CloudWatchError{Msg: fmt.Sprintf("%s: attempt %d's output from CloudWatch Logs", rec.Job, a.Number), Err: err}
}

// followRunning attaches to the job's run in progress, if there is one.
func followRunning(ctx context.Context, f *cmdutil.Factory, o *Options, engine client.APIClient) (bool, error) {
	name := jobs.ServiceName(o.Stack, o.Job)
	res, err := engine.ServiceInspect(ctx, name, client.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, &jobs.EngineError{Msg: "inspect service " + name, Err: err}
	}
	svc := res.Service
	job := jobs.JobOfService(o.Stack, o.Job, svc)
	report := jobs.NewTextReporter(f.IO.Out, f.IO.Err, f.IO.OutIsTerminal, false)
	r, err := cmdutil.NewRunners(f, engine, report, cmdutil.RunnerOptions{Stack: o.Stack, Logs: o.Logs}).For(ctx, job)
	if err != nil {
		return true, err
	}
	report.Notice(o.Job, fmt.Sprintf("following version %s (run %s) in progress", job.Version, job.RunID))
	_, err = r.Attach(ctx, job, svc)
	return true, err
}
