package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"

	"jobrun/logs"
)

// IO is where a command reads and writes; tests pass buffers.
type IO struct {
	Out, Err      io.Writer
	OutIsTerminal bool
}

// RunCommand is `jobrun run`: its flags, streams and engine.
type RunCommand struct {
	IO IO
	// Connect reaches the engine once the stack file has been checked, so a
	// mistake in it is reported without an engine. It also says the
	// engine's default log driver.
	Connect  func(ctx context.Context) (client.APIClient, string, error)
	Engine   client.APIClient
	Files    []string
	Stack    string
	Env      map[string]string // for ${VAR} interpolation, APP_VERSION included
	Jobs     []string
	Version  string
	JSON     bool
	Parallel bool
	Legacy   bool
	Spec     SpecOptions
	Run      RunOptions
	Logs     LogOptions
	Auth     func(image string) string // X-Registry-Auth for an image, "" for none
	Now      func() time.Time
	After    func(time.Duration) <-chan time.Time
}

// Execute runs the jobs in order, stopping at the first that does not
// succeed, or all at once with Parallel. Its error carries the exit code.
func (c *RunCommand) Execute(ctx context.Context) error {
	stack, err := LoadStack(c.Stack, c.Files, c.Env)
	if err != nil {
		return err
	}
	for _, name := range c.Jobs {
		if _, err := stack.Service(name); err != nil {
			return err
		}
		if !ValidName(ServiceName(c.Stack, name)) {
			return &UsageError{Msg: fmt.Sprintf("job name %q cannot name a Swarm service: use letters, digits, '-' and '_' (63 characters at most with the stack name)", name)}
		}
	}
	engine, defaultDriver, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	c.Engine, c.Logs.DefaultDriver = engine, defaultDriver
	legacy := c.Legacy || versions.LessThan(c.Engine.ClientVersion(), legacyAPIVersion)
	report := newTextReporter(c.IO, c.JSON)
	if legacy {
		report.Notice(c.Jobs[0], fmt.Sprintf("engine API %s has no replicated jobs (1.41+): running each job as a replicas:1 service with the same restart policy", c.Engine.ClientVersion()))
	}

	sources := newLogSources(c.Logs, logs.Engine{Client: c.Engine}, c.Now, c.After)
	jobs := make([]Job, 0, len(c.Jobs))
	places := make([]jobLogs, 0, len(c.Jobs))
	for _, name := range c.Jobs {
		o := c.Spec
		o.Version, o.RunID, o.Legacy = c.Version, newRunID(c.Now()), legacy
		job, err := Build(ctx, c.Engine, stack, name, o)
		if err != nil {
			return err
		}
		jl, err := sources.forJob(ctx, job)
		if err != nil {
			return err
		}
		for _, note := range job.Notes {
			report.Notice(job.Name, note)
		}
		c.warnIfStackDeploysIt(ctx, report, job)
		jobs, places = append(jobs, job), append(places, jl)
	}

	records := make([]Record, len(jobs))
	errs := make([]error, len(jobs))
	runOne := func(i int) {
		r := &Runner{
			Engine: c.Engine, Logs: places[i].src, LogPlace: places[i].place, Report: report,
			Records: Records{Engine: c.Engine}, Now: c.Now, After: c.After, Opts: c.Run.withPacing(c.Logs.DrainTimeout),
		}
		if c.Auth != nil {
			r.Opts.RegistryAuth = c.Auth(jobs[i].Spec.TaskTemplate.ContainerSpec.Image)
		}
		records[i], errs[i] = r.Run(ctx, jobs[i])
	}
	if c.Parallel {
		var wg sync.WaitGroup
		for i := range jobs {
			wg.Add(1)
			go func() { defer wg.Done(); runOne(i) }()
		}
		wg.Wait()
	} else {
		for i := range jobs {
			if runOne(i); errs[i] != nil {
				break
			}
		}
	}
	if c.JSON {
		var done []Record
		for i, rec := range records {
			if rec.RunID != "" || errs[i] == nil {
				done = append(done, rec)
			}
		}
		if err := writeRuns(c.IO.Out, done); err != nil {
			return err
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// warnIfStackDeploysIt warns when `docker stack deploy` also runs the job as
// an ordinary service: it then runs on every deploy, beside jobrun's run.
func (c *RunCommand) warnIfStackDeploysIt(ctx context.Context, report Reporter, job Job) {
	name := job.Stack + "_" + job.Name
	svc, _, err := c.Engine.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if err != nil || svc.Spec.Labels[labelStackNS] != job.Stack {
		return
	}
	report.Notice(job.Name, fmt.Sprintf("warning: stack %s also deploys %s as service %s, so it runs on every docker stack deploy: keep it out of the stack file (e.g. in jobs.yml)", job.Stack, job.Name, name))
}

// newRunID is sortable by time and unique enough to name a Swarm config.
func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// HistoryCommand is `jobrun history [JOB]`.
type HistoryCommand struct {
	IO      IO
	Records Records
	Stack   string
	Job     string
	JSON    bool
}

func (c *HistoryCommand) Execute(ctx context.Context) error {
	recs, err := c.Records.List(ctx, c.Stack, c.Job)
	if err != nil {
		return &EngineError{Msg: "read run records", Err: err}
	}
	if c.JSON {
		return writeRuns(c.IO.Out, recs)
	}
	if len(recs) == 0 {
		what := "no job"
		if c.Job != "" {
			what = "job " + c.Job
		}
		fmt.Fprintf(c.IO.Err, "jobrun: %s has no recorded runs in stack %s\n", what, c.Stack)
		return nil
	}
	fmt.Fprintf(c.IO.Out, "%-24s  %-14s  %-12s  %-11s  %-8s  %-20s  %s\n", "RUN", "JOB", "VERSION", "OUTCOME", "ATTEMPTS", "STARTED", "DURATION")
	for _, r := range recs {
		fmt.Fprintf(c.IO.Out, "%-24s  %-14s  %-12s  %-11s  %-8s  %-20s  %s\n", r.RunID, r.Job, r.Version, r.Outcome,
			fmt.Sprintf("%d/%d", len(r.Attempts), r.MaxRuns), r.Started.UTC().Format(time.RFC3339), r.Ended.Sub(r.Started).Round(10*time.Millisecond))
	}
	return nil
}

// writeRuns writes run records as the one JSON document of -o json.
func writeRuns(w io.Writer, recs []Record) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Runs []Record `json:"runs"`
	}{recs})
}
