package jobs

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/moby/moby/api/types/swarm"

	"jobrun/logs"
)

// scriptSource writes each task's scripted stderr, then waits for the
// attempt's end.
type scriptSource map[string]string

func (s scriptSource) Name() string              { return "engine" }
func (s scriptSource) Location(logs.Task) string { return "" }
func (s scriptSource) Follow(ctx context.Context, t logs.Task, ended <-chan struct{}, _, stderr io.Writer) error {
	fmt.Fprint(stderr, s[t.ID])
	select {
	case <-ended:
	case <-ctx.Done():
	}
	return nil
}

// failThenRetry: t1 runs, then fails; Swarm starts t2 after the restart
// delay unless jobrun stopped the job, and t2 completes.
func failThenRetry(call int, stopped bool) []swarm.Task {
	t1 := ended("t1", swarm.TaskStateFailed, 1)
	t2 := live("t2")
	t2.CreatedAt = t0.Add(time.Second)
	switch {
	case call < 3:
		return []swarm.Task{live("t1")}
	case call < 8 || stopped:
		return []swarm.Task{t1}
	case call < 10:
		return []swarm.Task{t1, t2}
	}
	t2 = ended("t2", swarm.TaskStateComplete, 0)
	t2.CreatedAt = t0.Add(time.Second)
	return []swarm.Task{t1, t2}
}

// TestRunnerRetryWhen: with x-jobrun retry-when, a failed attempt is
// retried only when its output says the failure is worth it; otherwise it
// is the last, and the verdict names its error.
func TestRunnerRetryWhen(t *testing.T) {
	notReady := "django.db.utils.OperationalError: (2002, \"Can't connect to MySQL server on 'db' (115)\")\n"
	halfway := djangoTraceback
	tests := []struct {
		name         string
		rules        OutputRules
		output       string // t1's
		wantOut      Outcome
		wantAttempts int
		wantReason   []string
		wantChanged  bool
		startFailed  bool // t1's container failed to start: the engine's error, no output
	}{
		{
			name: "a failure retry-when names is retried", rules: OutputRules{RetryWhen: []string{"Can't connect to MySQL server"}},
			output: notReady, wantOut: Succeeded, wantAttempts: 2, wantReason: []string{"attempt 2 completed"},
		},
		{
			name: "a failure retry-when does not name is the last", rules: OutputRules{RetryWhen: []string{"Can't connect to MySQL server"}},
			output: halfway, wantOut: Failed, wantAttempts: 1, wantChanged: true,
			wantReason: []string{"attempt 1 failed, and its output has none of the x-jobrun retry-when texts: no further attempt", `attempt 1: django.db.utils.IntegrityError: (1062, "Duplicate entry '' for key 'slug'")`},
		},
		{
			name: "without retry-when every failure is retried", output: halfway, wantOut: Succeeded, wantAttempts: 2,
		},
		{
			name: "a container that failed to start is left to Swarm", rules: OutputRules{RetryWhen: []string{"Can't connect to MySQL server"}},
			startFailed: true, wantOut: Succeeded, wantAttempts: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				engine := &fakeEngine{tasks: failThenRetry}
				if tt.startFailed {
					engine.tasks = func(call int, stopped bool) []swarm.Task {
						tasks := failThenRetry(call, stopped)
						if tasks[0].Status.State == swarm.TaskStateFailed {
							tasks[0].Status.Err = "starting container failed: network sandbox join failed"
						}
						return tasks
					}
				}
				rt := newRunnerTest(t, engine, scriptSource{"t1": tt.output}, RunOptions{})
				defer rt.stop()
				job := testJob()
				job.Output = tt.rules
				rec, _ := rt.runner.Run(t.Context(), job)
				t.Logf("stderr:\n%s", rt.errb.String())
				if rec.Outcome != tt.wantOut || RanAttempts(rec.Attempts) != tt.wantAttempts || rec.MayHaveChanged != tt.wantChanged {
					t.Errorf("%s after %d attempts (may have changed: %t), want %s after %d (%t)", rec.Outcome, RanAttempts(rec.Attempts), rec.MayHaveChanged, tt.wantOut, tt.wantAttempts, tt.wantChanged)
				}
				if want := fmt.Sprintf("after %d attempt(s)", tt.wantAttempts); !strings.Contains(rt.errb.String(), want) {
					t.Errorf("the verdict line does not say %q", want)
				}
				for _, want := range tt.wantReason {
					if !strings.Contains(rec.Reason, want) {
						t.Errorf("reason %q lacks %q", rec.Reason, want)
					}
				}
				if tt.wantOut == Failed && len(engine.called("update svc1 completions=0")) == 0 {
					t.Error("the job was not stopped: Swarm would start the next attempt")
				}
				if tt.wantOut == Failed && (len(rec.Failures) != 1 || rec.Failures[0].Attempts[0] != 1) {
					t.Errorf("failures %+v, want attempt 1's", rec.Failures)
				}
			})
		})
	}
}

// hangingSource prints nothing and never ends on its own: an attempt whose
// output cannot be read to its end.
type hangingSource struct{ scriptSource }

func (hangingSource) Follow(ctx context.Context, _ logs.Task, _ <-chan struct{}, _, _ io.Writer) error {
	<-ctx.Done()
	return nil
}

// TestRunnerUnreadOutputMayHaveChanged: a failed attempt whose output was
// not all read may have changed things: the release must warn.
func TestRunnerUnreadOutputMayHaveChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		engine := &fakeEngine{tasks: func(call int, _ bool) []swarm.Task {
			if call < 3 {
				return []swarm.Task{live("t1")}
			}
			return []swarm.Task{ended("t1", swarm.TaskStateFailed, 1)}
		}}
		rt := newRunnerTest(t, engine, hangingSource{}, RunOptions{DrainTimeout: time.Second})
		defer rt.stop()
		job := testJob()
		job.Policy.MaxRuns = 1
		job.Output = OutputRules{ChangesWhen: []string{"Applying "}}
		rec, _ := rt.runner.Run(t.Context(), job)
		if rec.Outcome != Failed || !rec.MayHaveChanged {
			t.Errorf("%s, may have changed %t: want failed, and may have changed (its output was not read)", rec.Outcome, rec.MayHaveChanged)
		}
	})
}
