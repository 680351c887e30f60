package jobs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	"golang.org/x/time/rate"

	"jobrun/logs"
)

// LogOptions say where a job's output is read from.
type LogOptions struct {
	Mode           string // auto, cloudwatch or docker
	Group          string // used when the job's spec names none
	StreamTemplate string // used when the job's spec sets no tag
	Region         string
	Profile        string
	FlushWait      time.Duration
	DrainTimeout   time.Duration
	Poll           time.Duration
	// DefaultDriver is the engine's default log driver (docker info), which
	// a job without a logging section uses.
	DefaultDriver string
}

// LogSources picks each job's source; one limiter serves all of a run's
// CloudWatch reads.
type LogSources struct {
	opts    LogOptions
	engine  logs.Source
	attach  logs.Attacher // the engine source's, for CloudWatch's write order
	report  Reporter
	limiter *rate.Limiter
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time
}

// NewLogSources picks among the engine and CloudWatch; report hears when a
// CloudWatch read stalls.
func NewLogSources(o LogOptions, engine logs.Source, report Reporter, now func() time.Time, after func(time.Duration) <-chan time.Time) *LogSources {
	var attach logs.Attacher
	if e, ok := engine.(logs.Engine); ok {
		// The engine source keeps the run's clock, as CloudWatch does.
		e.Now, e.After = now, after
		engine, attach = e, e.Attach
	}
	return &LogSources{opts: o, engine: engine, attach: attach, report: report, limiter: logs.NewQuotaLimiter(), now: now, after: after}
}

// LogPlace is where a CloudWatch source reads.
type LogPlace struct{ Group, Region, Endpoint string }

// JobLogs is where a job's output is read: its source, and for CloudWatch
// the group and region.
type JobLogs struct {
	Source logs.Source
	Place  LogPlace
}

// ForJob picks the job's source by --logs and its log driver.
func (s *LogSources) ForJob(ctx context.Context, job Job) (JobLogs, error) {
	// The engine's default driver comes with daemon.json's options, which
	// no API shows: the flags stand in for them. A driver the job sets
	// comes with its own options only, and without a tag the driver names
	// the stream after the container ID.
	driver, opts, template := s.opts.DefaultDriver, map[string]string{}, s.opts.StreamTemplate
	if d := job.Spec.TaskTemplate.LogDriver; d != nil && d.Name != "" {
		driver, opts, template = d.Name, d.Options, d.Options["tag"]
	}
	switch s.opts.Mode {
	case "docker":
		return JobLogs{Source: s.engine}, nil
	case "auto":
		if driver != "awslogs" {
			return JobLogs{Source: s.engine}, nil
		}
	}
	group := firstOf(opts["awslogs-group"], s.opts.Group)
	namer := logs.StreamNamer{Fixed: opts["awslogs-stream"], Template: template}
	if cs := job.Spec.TaskTemplate.ContainerSpec; cs != nil {
		namer.Image = cs.Image
	}
	if err := logs.CheckTemplate(namer.Template); err != nil {
		return JobLogs{}, &UsageError{Msg: fmt.Sprintf("job %s: %v: fix tag: in the job's logging options or --log-stream-template", job.Name, err)}
	}
	endpoint := opts["awslogs-endpoint"]
	client, cfg, err := logs.NewCloudWatchClient(ctx, logs.AWSOptions{
		Region: firstOf(opts["awslogs-region"], s.opts.Region), Profile: s.opts.Profile, Endpoint: endpoint,
	})
	if err != nil {
		return JobLogs{}, &CloudWatchError{Msg: fmt.Sprintf("job %s logs to CloudWatch", job.Name), Err: err}
	}
	if opts["awslogs-create-group"] != "true" {
		watch := logs.WatchStall(s.after, func(err error) {
			s.report.Notice(job.Name, fmt.Sprintf("WARNING: waiting for CloudWatch Logs to confirm that log group %s exists: %s; giving up after %s", group, OneLine(err), logs.CheckGroupBound))
		})
		err := logs.CheckGroup(ctx, client, group, cfg.Region, watch.Failed)
		watch.Stop()
		if err != nil {
			return JobLogs{}, &CloudWatchError{Msg: "job " + job.Name, Err: err}
		}
	}
	return JobLogs{
		Source: &logs.CloudWatch{
			Client: client, Group: group, Stream: namer.Name, Limiter: s.limiter,
			Poll: s.opts.Poll, FlushWait: s.opts.FlushWait, DrainTimeout: s.opts.DrainTimeout,
			Stalled: s.stalled(job.Name, group), Now: s.now, After: s.after, Attach: s.attach,
		},
		Place: LogPlace{Group: group, Region: cfg.Region, Endpoint: endpoint},
	}, nil
}

// stalled says what a stalled CloudWatch read of the job waits for, and
// its bound: the job runs on; an ended attempt's lines are waited for at
// most --drain-timeout.
func (s *LogSources) stalled(job, group string) func(string, error) {
	return func(stream string, err error) {
		s.report.Notice(job, fmt.Sprintf("WARNING: %s; the job runs on, and its output is waited for at most --drain-timeout %s once it ends", WaitingForCloudWatch(group, stream, err), s.opts.DrainTimeout))
	}
}

// WaitingForCloudWatch says which stream jobrun waits for, and why.
func WaitingForCloudWatch(group, stream string, err error) string {
	return fmt.Sprintf("waiting for CloudWatch Logs (stream %s/%s): %s", group, stream, OneLine(err))
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// EngineClient is what the engine source asks of the engine: the tasks'
// logs, and for a task on its own node, its container's stream.
type EngineClient interface {
	logs.TaskLogger
	ContainerAttach(ctx context.Context, container string, options client.ContainerAttachOptions) (client.ContainerAttachResult, error)
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
}

// EngineSource reads output through the engine's task logs API, and tells
// report when a broken live stream was read again.
func EngineSource(engine EngineClient, stack string, report Reporter) logs.Source {
	src := logs.Engine{Client: engine, Resumed: resumed(stack, report)}
	if engine != nil {
		src.Attach = &localNode{EngineClient: engine}
	}
	return src
}

// localNode asks the engine which swarm node it is, until it has said so
// once: a failed or cut-short ask (an attempt that ended at once cancels
// its own) must not turn the write order off for the later attempts.
type localNode struct {
	EngineClient
	mu sync.Mutex
	id string
}

func (n *localNode) NodeID(ctx context.Context) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.id != "" {
		return n.id, nil
	}
	res, err := n.Info(ctx, client.InfoOptions{})
	info := res.Info
	if err != nil {
		return "", err
	}
	n.id = info.Swarm.NodeID
	return n.id, nil
}

// resumed tells report that a broken live stream was read again.
func resumed(stack string, report Reporter) func(logs.Task, logs.Resume) {
	return func(t logs.Task, r logs.Resume) {
		job := strings.TrimPrefix(t.ServiceName, ServiceName(stack, ""))
		since := "its start"
		if !r.LastStamp.IsZero() {
			since = r.LastStamp.UTC().Format("15:04:05.000")
		}
		report.Notice(job, fmt.Sprintf("the engine's output stream of task %s broke (%s): read again from %s", shortID(t.ID), OneLine(r.Cause), since))
	}
}
