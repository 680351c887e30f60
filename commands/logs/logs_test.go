package logs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

var started = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func exited(code int) *int { return &code }

// seed records a failed run of migrate v1 with two attempts and their output.
func seed(t *testing.T, engine *cmdtest.Engine) {
	t.Helper()
	rec := jobs.Record{
		RunID: "20261126T120000Z-aaaaaa", Job: "migrate", Stack: "todo", Version: "v1", Outcome: jobs.Failed,
		Reason: "all 2 attempts failed; last: exit code 1", MaxRuns: 2, LogSource: "engine", Started: started, Ended: started.Add(time.Minute),
		Attempts: []jobs.Attempt{
			{Number: 1, TaskID: "t1", ContainerID: "c1", State: swarm.TaskStateFailed, ExitCode: exited(1)},
			{Number: 2, TaskID: "t2", ContainerID: "c2", State: swarm.TaskStateFailed, ExitCode: exited(1)},
		},
	}
	outputs := []jobs.AttemptOutput{{Number: 1, Output: []byte("Applying 0001\n")}, {Number: 2, Output: []byte("Applying 0002\n")}}
	if err := (jobs.Records{Engine: engine}).Save(context.Background(), rec, outputs); err != nil {
		t.Fatal(err)
	}
}

// run is jobrun logs with o, for stack todo, as the flags' defaults leave it.
func run(f *cmdutil.Factory, o Options) error {
	o.Common = cmdutil.Common{Stack: "todo", ConnectTimeout: time.Second}
	o.Logs = jobs.LogOptions{Mode: "auto", FlushWait: time.Second, DrainTimeout: time.Second}
	return Run(context.Background(), f, &o)
}

func TestLogs(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantOut   string
		wantErr   []string // words of stderr
		wantUsage string   // words of a usage error; "" for the run's verdict
	}{
		{name: "every attempt, then the verdict", opts: Options{Job: "migrate"}, wantOut: "Applying 0001\nApplying 0002\n",
			wantErr: []string{"attempt 1 of at most 2", "attempt 2 of at most 2", "v1 failed"}},
		{name: "one attempt", opts: Options{Job: "migrate", Attempt: 2}, wantOut: "Applying 0002\n"},
		{name: "a version's run", opts: Options{Job: "migrate", Version: "v1"}, wantOut: "Applying 0001\nApplying 0002\n"},
		{name: "attempt out of range", opts: Options{Job: "migrate", Attempt: 3}, wantUsage: "--attempt 3 is out of range: run 20261126T120000Z-aaaaaa of migrate had 2 attempt(s)"},
		{name: "a version never run", opts: Options{Job: "migrate", Version: "v9"}, wantUsage: "migrate version v9 has no recorded run in stack todo"},
		{name: "a job never run", opts: Options{Job: "collectstatic"}, wantUsage: "collectstatic has no recorded run in stack todo: run it first (jobrun collectstatic)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := &cmdtest.Engine{}
			seed(t, engine)
			f, out, errb := cmdtest.Factory(engine, started.Add(time.Hour))
			err := run(f, tt.opts)
			if tt.wantUsage != "" {
				jobstest.WantExit(t, err, jobs.ExitUsage, tt.wantUsage)
				return
			}
			var verdict *jobs.VerdictError
			if !errors.As(err, &verdict) || verdict.ExitCode() != jobs.ExitFailed {
				t.Errorf("err %v, want the run's verdict (exit %d)", err, jobs.ExitFailed)
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout %q, want %q", out.String(), tt.wantOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}

// nodesEngine knows node n1 (worker1); n2 has left the swarm.
type nodesEngine struct{ cmdtest.Engine }

func (e *nodesEngine) NodeInspect(_ context.Context, id string, _ client.NodeInspectOptions) (client.NodeInspectResult, error) {
	if id != "n1" {
		return client.NodeInspectResult{}, cerrdefs.ErrNotFound.WithMessage("node " + id + " not found")
	}
	return client.NodeInspectResult{Node: swarm.Node{ID: "n1", Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive},
		Description: swarm.NodeDescription{Hostname: "worker1"}, Status: swarm.NodeStatus{State: swarm.NodeStateReady}}}, nil
}

// --run shows that run, whatever its job, and where each attempt ran:
// the hostname recorded, or the engine's for a record without one.
func TestLogsRunNodes(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		spec      string // the record's kept spec
		want      []string
		wantUsage string
	}{
		{name: "a run that kept its spec", opts: Options{Run: "20261126T130000Z-bbbbbb"}, spec: "jobrun-20261126T130000Z-bbbbbb-spec", want: []string{
			"attempt 1 of at most 2 on node worker1 (n1): failed",
			"jobrun: migrate: attempt 1 ran on node worker1 (n1): it is ready and takes tasks\n",
			"jobrun: migrate: attempt 2 ran on node n2: it has left the swarm\n",
			"jobrun: migrate: replay an attempt on its node: jobrun exec migrate --run 20261126T130000Z-bbbbbb --attempt N [-it] [-- CMD ...]\n",
		}},
		{name: "a run recorded before specs were kept", opts: Options{Job: "migrate", Run: "20261126T130000Z-bbbbbb"}, want: []string{
			"jobrun: migrate: run 20261126T130000Z-bbbbbb was recorded without its service spec (by a jobrun from before replays): its attempts cannot be replayed\n",
		}},
		{name: "no such run", opts: Options{Run: "20261126T130000Z-cccccc"}, wantUsage: "stack todo has no recorded run 20261126T130000Z-cccccc: check the run ID (and the job) with jobrun history"},
		{name: "a run of another job", opts: Options{Job: "collectstatic", Run: "20261126T130000Z-bbbbbb"}, wantUsage: "stack todo has no recorded run 20261126T130000Z-bbbbbb"},
		{name: "--follow too", opts: Options{Run: "20261126T130000Z-bbbbbb", Follow: true}, wantUsage: "--run shows a recorded run and --follow the job's run in progress: drop one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := &nodesEngine{}
			seed(t, &engine.Engine) // the newest run of migrate is another
			rec := jobs.Record{RunID: "20261126T130000Z-bbbbbb", Job: "migrate", Stack: "todo", Version: "v1", Outcome: jobs.Failed, MaxRuns: 2, LogSource: "engine", Spec: tt.spec,
				Attempts: []jobs.Attempt{
					{Number: 1, TaskID: "t1", NodeID: "n1", Hostname: "worker1", State: swarm.TaskStateFailed, ExitCode: exited(1)},
					{Number: 2, TaskID: "t2", NodeID: "n2", State: swarm.TaskStateFailed, ExitCode: exited(1)},
				}}
			if err := (jobs.Records{Engine: engine}).Save(context.Background(), rec, nil); err != nil {
				t.Fatal(err)
			}
			f, _, errb := cmdtest.FactoryFor(engine, started.Add(time.Hour))
			err := run(f, tt.opts)
			if tt.wantUsage != "" {
				jobstest.WantExit(t, err, jobs.ExitUsage, tt.wantUsage)
				return
			}
			jobstest.WantExit(t, err, jobs.ExitFailed)
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}
