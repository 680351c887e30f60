package logs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

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
			o := tt.opts
			o.Common = cmdutil.Common{Stack: "todo", ConnectTimeout: time.Second}
			o.Logs = jobs.LogOptions{Mode: "auto", FlushWait: time.Second, DrainTimeout: time.Second}
			err := Run(context.Background(), f, &o)
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
