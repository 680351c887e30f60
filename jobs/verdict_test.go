package jobs

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// t0 is the moment the first task of every recorded sequence was created.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// task builds one recorded task. created and updated are offsets from t0.
func task(id string, state swarm.TaskState, created, updated time.Duration) swarm.Task {
	t := swarm.Task{ID: id, NodeID: "node-" + id}
	t.CreatedAt = t0.Add(created)
	t.Status.State = state
	t.Status.Timestamp = t0.Add(updated)
	return t
}

// withExit gives the task a container that exited with code.
func withExit(t swarm.Task, container string, code int, errText string) swarm.Task {
	t.Status.ContainerStatus = &swarm.ContainerStatus{ContainerID: container, ExitCode: code}
	t.Status.Err = errText
	return t
}

func withErr(t swarm.Task, errText string) swarm.Task {
	t.Status.Err = errText
	return t
}

func withIteration(t swarm.Task, index uint64) swarm.Task {
	t.JobIteration = &swarm.Version{Index: index}
	return t
}

// poolOverlaps is how Engine 29 rejects a task while its node still holds
// a just-removed network whose subnet the swarm gave to the next one.
const poolOverlaps = "invalid pool request: Pool overlaps with other one on this address space"

func failed(id string, created, updated time.Duration) swarm.Task {
	return withExit(task(id, swarm.TaskStateFailed, created, updated), "c-"+id, 1, "task: non-zero exit (1)")
}

func uint64p(n uint64) *uint64 { return &n }

func TestJudge(t *testing.T) {
	policy := Policy{MaxRuns: 7, Delay: 30 * time.Second, PendingTimeout: 2 * time.Minute}
	tests := []struct {
		name      string
		tasks     []swarm.Task
		iteration *uint64
		policy    Policy
		now       time.Duration // offset from t0
		outcome   Outcome
		reason    []string // words the reason must contain
		attempts  int
	}{
		{
			name:     "no tasks yet",
			now:      time.Hour,
			outcome:  Running,
			attempts: 0,
		},
		{
			name:     "one running",
			tasks:    []swarm.Task{withExit(task("a", swarm.TaskStateRunning, 0, time.Second), "c-a", 0, "")},
			now:      10 * time.Minute,
			outcome:  Running,
			attempts: 1,
		},
		{
			name:     "one starting",
			tasks:    []swarm.Task{task("a", swarm.TaskStateStarting, 0, time.Second)},
			now:      time.Minute,
			outcome:  Running,
			attempts: 1,
		},
		{
			name:     "complete",
			tasks:    []swarm.Task{withExit(task("a", swarm.TaskStateComplete, 0, 5*time.Second), "c-a", 0, "")},
			now:      time.Hour,
			outcome:  Succeeded,
			reason:   []string{"attempt 1", "completed"},
			attempts: 1,
		},
		{
			name: "fails twice then completes",
			tasks: []swarm.Task{
				failed("a", 0, 5*time.Second),
				failed("b", 5*time.Second, 40*time.Second),
				withExit(task("c", swarm.TaskStateComplete, 40*time.Second, 80*time.Second), "c-c", 0, ""),
			},
			now:      2 * time.Minute,
			outcome:  Succeeded,
			reason:   []string{"attempt 3 completed"},
			attempts: 3,
		},
		{
			name: "all runs fail",
			tasks: []swarm.Task{
				failed("a", 0, 5*time.Second),
				failed("b", 5*time.Second, 40*time.Second),
				withExit(task("c", swarm.TaskStateFailed, 40*time.Second, 80*time.Second), "c-c", 3, "task: non-zero exit (3)"),
			},
			policy:   Policy{MaxRuns: 3, Delay: 30 * time.Second},
			now:      81 * time.Second,
			outcome:  Failed,
			reason:   []string{"all 3 attempts failed; last: exit code 3"},
			attempts: 3,
		},
		{
			name: "all runs fail, last without error text reports its exit code",
			tasks: []swarm.Task{
				withExit(task("a", swarm.TaskStateFailed, 0, 5*time.Second), "c-a", 42, ""),
			},
			policy:   Policy{MaxRuns: 1, Delay: 30 * time.Second},
			now:      6 * time.Second,
			outcome:  Failed,
			reason:   []string{"all 1 attempts failed", "exit code 42"},
			attempts: 1,
		},
		{
			name: "fewer failures than runs, last failed recently",
			tasks: []swarm.Task{
				failed("a", 0, 5*time.Second),
				failed("b", 5*time.Second, 40*time.Second),
			},
			now:      40*time.Second + 30*time.Second + 29*time.Second, // within Delay+grace
			outcome:  Running,
			attempts: 2,
		},
		{
			name: "fewer failures than runs, Swarm gave up",
			tasks: []swarm.Task{
				failed("a", 0, 5*time.Second),
				failed("b", 5*time.Second, 40*time.Second),
			},
			now:      40*time.Second + 30*time.Second + 31*time.Second, // past Delay+grace
			outcome:  Failed,
			reason:   []string{"Swarm started no new attempt", "2 of 7", "last: exit code 1"},
			attempts: 2,
		},
		{
			name: "rejected",
			tasks: []swarm.Task{
				withErr(task("a", swarm.TaskStateRejected, 0, time.Second), `No such image: repo/app:missing`),
			},
			now:      2 * time.Second,
			outcome:  Rejected,
			reason:   []string{"attempt 1 rejected", "No such image: repo/app:missing"},
			attempts: 1,
		},
		{
			name: "rejected after a failure",
			tasks: []swarm.Task{
				failed("a", 0, 5*time.Second),
				withErr(task("b", swarm.TaskStateRejected, 5*time.Second, 36*time.Second), "invalid mount config"),
			},
			now:      37 * time.Second,
			outcome:  Rejected,
			reason:   []string{"attempt 2 rejected", "invalid mount config"},
			attempts: 2,
		},
		{
			name: "rejected by the engine's own cancellation",
			tasks: []swarm.Task{
				failed("a", 0, 5*time.Second),
				withErr(task("b", swarm.TaskStateRejected, 5*time.Second, 6*time.Second), "Canceled: context canceled"),
			},
			now:      7 * time.Second,
			outcome:  Running,
			attempts: 2,
		},
		{
			name: "all attempts failed, one lost to the engine",
			tasks: []swarm.Task{
				failed("a", 0, 5*time.Second),
				withErr(task("b", swarm.TaskStateRejected, 5*time.Second, 6*time.Second), "Canceled: context canceled"),
				failed("c", 36*time.Second, 40*time.Second),
			},
			policy:   Policy{MaxRuns: 3, Delay: 30 * time.Second},
			now:      41 * time.Second,
			outcome:  Failed,
			reason:   []string{"all 3 attempts failed"},
			attempts: 3,
		},
		{
			name: "a pool that overlaps is an attempt lost to the engine",
			tasks: []swarm.Task{
				withErr(task("a", swarm.TaskStateRejected, 0, time.Second), poolOverlaps),
			},
			now:      2 * time.Second,
			outcome:  Running,
			attempts: 1,
		},
		{
			name: "lost to the engine, then the attempt that runs completes",
			tasks: []swarm.Task{
				withErr(task("a", swarm.TaskStateRejected, 0, time.Second), poolOverlaps),
				withExit(task("b", swarm.TaskStateComplete, 31*time.Second, 40*time.Second), "c-b", 0, ""),
			},
			now:      41 * time.Second,
			outcome:  Succeeded,
			reason:   []string{"attempt 2 completed"},
			attempts: 2,
		},
		{
			name: "the same rejection three times in a row is final",
			tasks: []swarm.Task{
				withErr(task("a", swarm.TaskStateRejected, 0, time.Second), poolOverlaps),
				withErr(task("b", swarm.TaskStateRejected, 31*time.Second, 32*time.Second), poolOverlaps),
				withErr(task("c", swarm.TaskStateRejected, 62*time.Second, 63*time.Second), poolOverlaps),
			},
			now:      64 * time.Second,
			outcome:  Rejected,
			reason:   []string{"attempts 1–3 rejected the same way", "Pool overlaps"},
			attempts: 3,
		},
		{
			name: "the same rejection three times within a minute is still an engine's passing refusal",
			tasks: []swarm.Task{
				withErr(task("a", swarm.TaskStateRejected, 0, time.Second), poolOverlaps),
				withErr(task("b", swarm.TaskStateRejected, 4*time.Second, 5*time.Second), poolOverlaps),
				withErr(task("c", swarm.TaskStateRejected, 8*time.Second, 9*time.Second), poolOverlaps),
			},
			policy:   Policy{MaxRuns: 7, Delay: 3 * time.Second},
			now:      10 * time.Second,
			outcome:  Running,
			attempts: 3,
		},
		{
			name: "two different rejections are not the same one twice",
			tasks: []swarm.Task{
				withErr(task("a", swarm.TaskStateRejected, 0, time.Second), poolOverlaps),
				withErr(task("b", swarm.TaskStateRejected, 31*time.Second, 32*time.Second), "Canceled: context canceled"),
				withErr(task("c", swarm.TaskStateRejected, 62*time.Second, 63*time.Second), poolOverlaps),
			},
			now:      64 * time.Second,
			outcome:  Running,
			attempts: 3,
		},
		{
			name: "a rejection on the last attempt allowed, after the job itself failed",
			tasks: []swarm.Task{
				failed("a", 0, 5*time.Second),
				withErr(task("b", swarm.TaskStateRejected, 36*time.Second, 37*time.Second), poolOverlaps),
			},
			policy:   Policy{MaxRuns: 2, Delay: 30 * time.Second},
			now:      38 * time.Second,
			outcome:  Failed, // the job failed: not the engine's refusal alone
			reason:   []string{"all 2 attempts failed", "last: rejected: invalid pool request"},
			attempts: 2,
		},
		{
			name: "every attempt allowed rejected, the job never ran",
			tasks: []swarm.Task{
				withErr(task("a", swarm.TaskStateRejected, 0, time.Second), "Canceled: context canceled"),
				withErr(task("b", swarm.TaskStateRejected, 36*time.Second, 37*time.Second), poolOverlaps),
			},
			policy:   Policy{MaxRuns: 2, Delay: 30 * time.Second},
			now:      38 * time.Second,
			outcome:  Rejected,
			reason:   []string{"all 2 attempts failed", "last: rejected: invalid pool request"},
			attempts: 2,
		},
		{
			name: "a command that cannot start is final",
			tasks: []swarm.Task{
				withErr(task("a", swarm.TaskStateRejected, 0, time.Second), `starting container failed: OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH: unknown`),
			},
			now:      2 * time.Second,
			outcome:  Rejected,
			reason:   []string{"attempt 1 rejected", "executable file not found"},
			attempts: 1,
		},
		{
			name:     "pending just under the timeout",
			tasks:    []swarm.Task{withErr(task("a", swarm.TaskStatePending, 0, time.Second), "no suitable node")},
			now:      2*time.Minute - time.Second,
			outcome:  Running,
			attempts: 1,
		},
		{
			name:     "pending at the timeout",
			tasks:    []swarm.Task{withErr(task("a", swarm.TaskStatePending, 0, time.Second), "no suitable node (insufficient resources on 1 node)")},
			now:      2 * time.Minute,
			outcome:  Pending,
			reason:   []string{"attempt 1 pending for 2m0s", "insufficient resources"},
			attempts: 1,
		},
		{
			name:     "pending without an error says so",
			tasks:    []swarm.Task{task("a", swarm.TaskStatePending, 0, time.Second)},
			now:      5 * time.Minute,
			outcome:  Pending,
			reason:   []string{"no node took it"},
			attempts: 1,
		},
		{
			name:     "pending forever without a pending timeout",
			tasks:    []swarm.Task{task("a", swarm.TaskStatePending, 0, time.Second)},
			policy:   Policy{MaxRuns: 7, Delay: 30 * time.Second},
			now:      24 * time.Hour,
			outcome:  Running,
			attempts: 1,
		},
		{
			name: "restarted attempt pending: counted from created+delay, not yet",
			tasks: []swarm.Task{
				failed("a", 0, 10*time.Second),
				task("b", swarm.TaskStatePending, 10*time.Second, 10*time.Second),
			},
			now:      10*time.Second + 2*time.Minute + 29*time.Second, // 2m29s after created, 1m59s after the delay
			outcome:  Running,
			attempts: 2,
		},
		{
			name: "restarted attempt pending: counted from created+delay, stuck",
			tasks: []swarm.Task{
				failed("a", 0, 10*time.Second),
				task("b", swarm.TaskStatePending, 10*time.Second, 10*time.Second),
			},
			now:      10*time.Second + 30*time.Second + 2*time.Minute,
			outcome:  Pending,
			reason:   []string{"attempt 2 pending for 2m0s"},
			attempts: 2,
		},
		{
			name: "tasks of an older job iteration are ignored",
			tasks: []swarm.Task{
				withIteration(withExit(task("old", swarm.TaskStateComplete, 0, 5*time.Second), "c-old", 0, ""), 1),
				withIteration(task("new", swarm.TaskStateRunning, time.Minute, time.Minute+time.Second), 2),
			},
			iteration: uint64p(2),
			now:       2 * time.Minute,
			outcome:   Running,
			attempts:  1,
		},
		{
			name: "older iteration's failures do not count",
			tasks: []swarm.Task{
				withIteration(failed("old1", 0, 5*time.Second), 1),
				withIteration(failed("old2", 5*time.Second, 40*time.Second), 1),
				withIteration(failed("new", time.Minute, time.Minute+5*time.Second), 2),
			},
			iteration: uint64p(2),
			policy:    Policy{MaxRuns: 2, Delay: 30 * time.Second},
			now:       time.Minute + 6*time.Second,
			outcome:   Running,
			attempts:  1,
		},
		{
			name: "without an iteration every task counts",
			tasks: []swarm.Task{
				withIteration(failed("old", 0, 5*time.Second), 1),
				withIteration(withExit(task("new", swarm.TaskStateComplete, time.Minute, 2*time.Minute), "c-new", 0, ""), 2),
			},
			now:      3 * time.Minute,
			outcome:  Succeeded,
			reason:   []string{"attempt 2 completed"},
			attempts: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			if p == (Policy{}) {
				p = policy
			}
			v := Judge(tt.tasks, tt.iteration, p, t0.Add(tt.now))
			if v.Outcome != tt.outcome {
				t.Errorf("outcome = %q, want %q (reason %q)", v.Outcome, tt.outcome, v.Reason)
			}
			for _, w := range tt.reason {
				if !strings.Contains(v.Reason, w) {
					t.Errorf("reason %q does not contain %q", v.Reason, w)
				}
			}
			if tt.outcome == Running && v.Reason != "" {
				t.Errorf("running verdict has reason %q", v.Reason)
			}
			if len(v.Attempts) != tt.attempts {
				t.Errorf("got %d attempts, want %d: %+v", len(v.Attempts), tt.attempts, v.Attempts)
			}
		})
	}
}

func TestJudgeNumbersAttemptsInCreationOrder(t *testing.T) {
	ordered := []swarm.Task{
		failed("zz-first", 0, 5*time.Second),
		failed("aa-second", 5*time.Second, 40*time.Second),
		withExit(task("mm-third", swarm.TaskStateComplete, 40*time.Second, 80*time.Second), "c-third", 0, ""),
	}
	shuffles := [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}}
	for _, order := range shuffles {
		in := make([]swarm.Task, 0, len(ordered))
		for _, i := range order {
			in = append(in, ordered[i])
		}
		v := Judge(in, nil, Policy{MaxRuns: 7, Delay: 30 * time.Second}, t0.Add(time.Hour))
		if v.Outcome != Succeeded {
			t.Errorf("order %v: outcome %q, want succeeded", order, v.Outcome)
		}
		if len(v.Attempts) != 3 {
			t.Fatalf("order %v: %d attempts, want 3", order, len(v.Attempts))
		}
		for i, a := range v.Attempts {
			if a.Number != i+1 || a.TaskID != ordered[i].ID {
				t.Errorf("order %v: attempt %d is #%d task %s, want #%d task %s", order, i, a.Number, a.TaskID, i+1, ordered[i].ID)
			}
		}
	}
}

func TestAttemptsTieOnCreatedSortsByTaskID(t *testing.T) {
	in := []swarm.Task{task("b", swarm.TaskStateRunning, 0, 0), task("a", swarm.TaskStateFailed, 0, 0)}
	got := Attempts(in, nil)
	if got[0].TaskID != "a" || got[1].TaskID != "b" || got[0].Number != 1 || got[1].Number != 2 {
		t.Errorf("attempts = %+v, want a#1 then b#2", got)
	}
}

func TestAttemptsRecordsTaskFields(t *testing.T) {
	in := withExit(task("t1", swarm.TaskStateFailed, time.Second, 9*time.Second), "c1", 2, "task: non-zero exit (2)")
	a := Attempts([]swarm.Task{in}, nil)[0]
	want := Attempt{Number: 1, TaskID: "t1", NodeID: "node-t1", ContainerID: "c1", State: swarm.TaskStateFailed,
		Err: "task: non-zero exit (2)", Created: t0.Add(time.Second), Updated: t0.Add(9 * time.Second)}
	if a.ExitCode == nil || *a.ExitCode != 2 {
		t.Fatalf("exit code = %v, want 2", a.ExitCode)
	}
	a.ExitCode = nil
	if !reflect.DeepEqual(a, want) {
		t.Errorf("attempt = %+v\nwant      %+v", a, want)
	}
}

// TestAttemptsFlattenTheEngineError: Engine 29 rejects a task with an
// error of two lines; the verdict that quotes it must be one line.
func TestAttemptsFlattenTheEngineError(t *testing.T) {
	in := task("t1", swarm.TaskStateRejected, 0, time.Second)
	in.Status.Err = "network sandbox join failed: overlay: the local data-plane address is not currently known\noverlay: the local data-plane address is not currently known"
	v := Judge([]swarm.Task{in}, nil, Policy{MaxRuns: 1}, t0.Add(2*time.Second))
	if v.Outcome != Rejected || strings.Contains(v.Reason, "\n") || strings.Contains(v.Attempts[0].Err, "\n") {
		t.Errorf("verdict %s %q, attempt error %q: want one line each", v.Outcome, v.Reason, v.Attempts[0].Err)
	}
}

func TestAttemptsExitCodeOnlyWhenDone(t *testing.T) {
	tests := []struct {
		state    swarm.TaskState
		code     int
		wantCode *int
		started  bool
	}{
		{swarm.TaskStateRunning, 0, nil, true},
		{swarm.TaskStateStarting, 0, nil, true},
		{swarm.TaskStatePreparing, 0, nil, true},
		{swarm.TaskStateComplete, 0, intp(0), true},
		{swarm.TaskStateFailed, 137, intp(137), true},
		{swarm.TaskStateShutdown, 143, intp(143), true},
		{swarm.TaskStateRejected, 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.state), func(t *testing.T) {
			in := withExit(task("a", tt.state, 0, time.Second), "c-a", tt.code, "")
			a := Attempts([]swarm.Task{in}, nil)[0]
			switch {
			case tt.wantCode == nil && a.ExitCode != nil:
				t.Errorf("exit code = %d, want none", *a.ExitCode)
			case tt.wantCode != nil && a.ExitCode == nil:
				t.Errorf("exit code missing, want %d", *tt.wantCode)
			case tt.wantCode != nil && *a.ExitCode != *tt.wantCode:
				t.Errorf("exit code = %d, want %d", *a.ExitCode, *tt.wantCode)
			}
			if a.ContainerID != "c-a" {
				t.Errorf("container = %q, want c-a", a.ContainerID)
			}
			if a.Started() != tt.started {
				t.Errorf("Started() = %v, want %v", a.Started(), tt.started)
			}
		})
	}
	t.Run("no container status", func(t *testing.T) {
		a := Attempts([]swarm.Task{task("a", swarm.TaskStateFailed, 0, time.Second)}, nil)[0]
		if a.ExitCode != nil || a.ContainerID != "" || a.Started() {
			t.Errorf("attempt without container = %+v, started %v", a, a.Started())
		}
	})
}

func intp(n int) *int { return &n }

func TestAttemptDone(t *testing.T) {
	tests := map[swarm.TaskState]bool{
		swarm.TaskStateNew: false, swarm.TaskStatePending: false, swarm.TaskStateAssigned: false,
		swarm.TaskStateRunning: false, swarm.TaskStateComplete: true, swarm.TaskStateShutdown: true,
		swarm.TaskStateFailed: true, swarm.TaskStateRejected: true, swarm.TaskStateOrphaned: true,
	}
	for state, want := range tests {
		if got := (Attempt{State: state}).Done(); got != want {
			t.Errorf("Attempt{State: %s}.Done() = %v, want %v", state, got, want)
		}
	}
}

func TestOutcomeExitCode(t *testing.T) {
	tests := []struct {
		outcome Outcome
		want    int
	}{
		{Succeeded, 0},
		{Failed, 1},
		{Rejected, 3},
		{Pending, 4},
		{TimedOut, 5},
		{Removed, 6},
		{Interrupted, 130},
		{Running, ExitFailed}, // not final: reporting it as a result is a failure
		{Outcome("bogus"), ExitFailed},
	}
	for _, tt := range tests {
		if got := tt.outcome.ExitCode(); got != tt.want {
			t.Errorf("%q.ExitCode() = %d, want %d", tt.outcome, got, tt.want)
		}
		if got := (&VerdictError{Outcome: tt.outcome}).ExitCode(); got != tt.want {
			t.Errorf("VerdictError{%q}.ExitCode() = %d, want %d", tt.outcome, got, tt.want)
		}
	}
}

func TestStranded(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	running := Verdict{Outcome: Running, Attempts: []Attempt{{Number: 1, TaskID: "t1", NodeID: "nodeA0123456789", State: swarm.TaskStateRunning}}}
	down := map[string]DownNode{"nodeA0123456789": {Hostname: "worker-1", Since: t0}}
	cases := []struct {
		name string
		v    Verdict
		down map[string]DownNode
		now  time.Time
		want Outcome
	}{
		{"node up", running, nil, t0.Add(time.Hour), Running},
		{"down, within grace", running, down, t0.Add(59 * time.Second), Running},
		{"down past grace", running, down, t0.Add(61 * time.Second), Failed},
		{"attempt already done", Verdict{Outcome: Running, Attempts: []Attempt{{Number: 1, NodeID: "nodeA0123456789", State: swarm.TaskStateFailed}}}, down, t0.Add(time.Hour), Running},
		{"final verdict kept", Verdict{Outcome: Succeeded, Attempts: running.Attempts}, down, t0.Add(time.Hour), Succeeded},
		{"no attempts", Verdict{Outcome: Running}, down, t0.Add(time.Hour), Running},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Stranded(c.v, c.down, time.Minute, c.now)
			if got.Outcome != c.want {
				t.Fatalf("outcome %s, want %s", got.Outcome, c.want)
			}
			if c.want == Failed && (!strings.Contains(got.Reason, "worker-1") || !strings.Contains(got.Reason, "nodeA0123456") || !strings.Contains(got.Reason, "down")) {
				t.Errorf("reason %q does not name the lost node", got.Reason)
			}
		})
	}
}
