package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/clocktest"
)

// fakeTasks is a TaskSource whose calls are func fields.
type fakeTasks struct {
	taskList func(ctx context.Context, o client.TaskListOptions) ([]swarm.Task, error)
	inspect  func(ctx context.Context, id string) (swarm.Service, error)
	node     func(ctx context.Context, id string) (swarm.Node, error)
}

func (f *fakeTasks) TaskList(ctx context.Context, o client.TaskListOptions) (client.TaskListResult, error) {
	tasks, err := f.taskList(ctx, o)
	return client.TaskListResult{Items: tasks}, err
}

func (f *fakeTasks) NodeInspect(ctx context.Context, id string, _ client.NodeInspectOptions) (client.NodeInspectResult, error) {
	if f.node == nil {
		return client.NodeInspectResult{Node: swarm.Node{Status: swarm.NodeStatus{State: swarm.NodeStateReady}}}, nil
	}
	n, err := f.node(ctx, id)
	return client.NodeInspectResult{Node: n}, err
}

func (f *fakeTasks) ServiceInspect(ctx context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	svc, err := f.inspect(ctx, id)
	return client.ServiceInspectResult{Service: svc}, err
}

// script returns the lists in turn, then the last one forever, and counts
// the calls. A nil list with a non-nil error makes that call fail.
type script struct {
	steps []step
	calls int
}

type step struct {
	tasks []swarm.Task
	err   error
}

func (s *script) next(context.Context, client.TaskListOptions) ([]swarm.Task, error) {
	i := s.calls
	if i >= len(s.steps) {
		i = len(s.steps) - 1
	}
	s.calls++
	return s.steps[i].tasks, s.steps[i].err
}

func tasksOf(ts ...swarm.Task) step { return step{tasks: ts} }

// autoClock is a fake clock from t0 that moves on to each wait as soon as
// the waiter asks it: a watch of minutes takes no time, and Asked lists the
// waits.
func autoClock(t *testing.T) *clocktest.Clock {
	c := clocktest.New(t0)
	c.AutoAdvance(t.Context())
	return c
}

func foundService(context.Context, string) (swarm.Service, error) {
	return swarm.Service{ID: "svc1"}, nil
}

func newWaiter(engine TaskSource, clock *clocktest.Clock, p Policy) Waiter {
	return Waiter{
		Engine:         engine,
		Policy:         p,
		Now:            clock.Now,
		After:          clock.After,
		Fast:           time.Second,
		Slow:           4 * time.Second,
		NodeCheckEvery: time.Minute,
		Reconnect:      3 * time.Second,
	}
}

// summary renders a verdict as "outcome:state,state".
func summary(v Verdict) string {
	states := make([]string, len(v.Attempts))
	for i, a := range v.Attempts {
		states[i] = string(a.State)
	}
	return string(v.Outcome) + ":" + strings.Join(states, ",")
}

// at is a task created at t0 (the fake clock's start) plus created.
func at(id string, state swarm.TaskState, created time.Duration) swarm.Task {
	tk := task(id, state, created, created)
	if state != swarm.TaskStatePending && state != swarm.TaskStateNew {
		tk.Status.ContainerStatus = &swarm.ContainerStatus{ContainerID: "c-" + id}
	}
	return tk
}

func TestWaiterWatch(t *testing.T) {
	running := at("a", swarm.TaskStateRunning, 0)
	complete := withExit(at("a", swarm.TaskStateComplete, 0), "c-a", 0, "")
	tests := []struct {
		name      string
		steps     []step
		service   swarm.Service
		policy    Policy
		outcome   Outcome
		reason    string
		changes   []string        // summaries passed to onChange, in order
		afters    []time.Duration // waits asked of the clock, in order
		polls     int
		inspected int // service inspections, the first included
	}{
		{
			name: "runs then completes",
			steps: []step{
				tasksOf(),
				tasksOf(at("a", swarm.TaskStatePending, 0)),
				tasksOf(at("a", swarm.TaskStatePending, 0)),
				tasksOf(running),
				tasksOf(running),
				tasksOf(running),
				tasksOf(complete),
			},
			outcome:   Succeeded,
			reason:    "attempt 1 completed",
			changes:   []string{"running:", "running:pending", "running:running", "succeeded:complete"},
			afters:    []time.Duration{time.Second, time.Second, 1500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond},
			polls:     7,
			inspected: 2, // the start, and the poll that found no task
		},
		{
			name: "every attempt fails",
			steps: []step{
				tasksOf(running),
				tasksOf(failed("a", 0, time.Second)),
				tasksOf(failed("a", 0, time.Second), at("b", swarm.TaskStateRunning, time.Second)),
				tasksOf(failed("a", 0, time.Second), failed("b", time.Second, 2*time.Second)),
			},
			policy:    Policy{MaxRuns: 2, Delay: time.Second},
			outcome:   Failed,
			reason:    "all 2 attempts failed",
			changes:   []string{"running:running", "running:failed", "running:failed,running", "failed:failed,failed"},
			afters:    []time.Duration{time.Second, time.Second, time.Second},
			polls:     4,
			inspected: 1,
		},
		{
			name:      "pending past the pending timeout, polls backing off to Slow",
			steps:     []step{tasksOf(at("a", swarm.TaskStatePending, 0))},
			policy:    Policy{MaxRuns: 7, Delay: 30 * time.Second, PendingTimeout: 10 * time.Second},
			outcome:   Pending,
			reason:    "attempt 1 pending",
			changes:   []string{"running:pending", "pending:pending"},
			afters:    []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3375 * time.Millisecond, 4 * time.Second},
			polls:     6,
			inspected: 1,
		},
		{
			name: "tasks of an older job iteration are not this run's",
			steps: []step{
				tasksOf(withIteration(complete, 4), withIteration(at("b", swarm.TaskStateRunning, time.Second), 5)),
				tasksOf(withIteration(complete, 4), withIteration(failed("b", time.Second, 2*time.Second), 5)),
			},
			service:   swarm.Service{ID: "svc1", JobStatus: &swarm.JobStatus{JobIteration: swarm.Version{Index: 5}}},
			policy:    Policy{MaxRuns: 1, Delay: time.Second},
			outcome:   Failed,
			changes:   []string{"running:running", "failed:failed"},
			afters:    []time.Duration{time.Second},
			polls:     2,
			inspected: 1,
		},
		{
			name:      "engine refuses the task",
			steps:     []step{tasksOf(withErr(at("a", swarm.TaskStateRejected, 0), "No such image: repo/app:nope"))},
			outcome:   Rejected,
			reason:    "No such image: repo/app:nope",
			changes:   []string{"rejected:rejected"},
			afters:    nil,
			polls:     1,
			inspected: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{steps: tt.steps}
			inspected := 0
			svc := tt.service
			if svc.ID == "" {
				svc.ID = "svc1"
			}
			engine := &fakeTasks{taskList: s.next, inspect: func(_ context.Context, id string) (swarm.Service, error) {
				inspected++
				if id != "svc1" {
					t.Errorf("inspected %q, want svc1", id)
				}
				return svc, nil
			}}
			clock := autoClock(t)
			p := tt.policy
			if p == (Policy{}) {
				p = Policy{MaxRuns: 7, Delay: 30 * time.Second, PendingTimeout: 2 * time.Minute}
			}
			var changes []string
			v, err := newWaiter(engine, clock, p).Watch(context.Background(), "svc1", func(v Verdict) {
				changes = append(changes, summary(v))
			})
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if v.Outcome != tt.outcome || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("verdict = %s %q, want %s containing %q", v.Outcome, v.Reason, tt.outcome, tt.reason)
			}
			if fmt.Sprint(changes) != fmt.Sprint(tt.changes) {
				t.Errorf("onChange got %q\nwant           %q", changes, tt.changes)
			}
			if fmt.Sprint(clock.Asked()) != fmt.Sprint(tt.afters) {
				t.Errorf("waits = %v, want %v", clock.Asked(), tt.afters)
			}
			if s.calls != tt.polls {
				t.Errorf("polled %d times, want %d", s.calls, tt.polls)
			}
			if inspected != tt.inspected {
				t.Errorf("inspected %d times, want %d", inspected, tt.inspected)
			}
		})
	}
}

func TestWaiterServiceRemoved(t *testing.T) {
	notFound := cerrdefs.ErrNotFound.WithMessage("service svc1 not found")
	running := at("a", swarm.TaskStateRunning, 0)
	tests := []struct {
		name     string
		steps    []step
		found    int // inspections that find the service before it is gone
		inspects int // inspections in all
		attempts int
		polls    int
	}{
		{name: "gone before the wait starts", steps: []step{tasksOf(running)}, found: 0, inspects: 1, attempts: 0, polls: 0},
		{name: "gone before any task", steps: []step{tasksOf()}, found: 1, inspects: 2, attempts: 0, polls: 1},
		// The engine resolves the task list's service filter: a removed
		// service is a NotFound there, with no inspection needed.
		{name: "gone while running", steps: []step{tasksOf(running), {err: notFound}}, found: 1, inspects: 1, attempts: 1, polls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{steps: tt.steps}
			inspected := 0
			engine := &fakeTasks{taskList: s.next, inspect: func(context.Context, string) (swarm.Service, error) {
				inspected++
				if inspected > tt.found {
					return swarm.Service{}, notFound
				}
				return swarm.Service{ID: "svc1"}, nil
			}}
			clock := autoClock(t)
			w := newWaiter(engine, clock, Policy{MaxRuns: 7, Delay: 30 * time.Second})
			v, err := w.Watch(context.Background(), "svc1", func(Verdict) {})
			if err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if v.Outcome != Removed || !strings.Contains(v.Reason, "removed") {
				t.Errorf("verdict = %s %q, want removed", v.Outcome, v.Reason)
			}
			if len(v.Attempts) != tt.attempts {
				t.Errorf("verdict has %d attempts, want %d", len(v.Attempts), tt.attempts)
			}
			if s.calls != tt.polls {
				t.Errorf("polled %d times, want %d", s.calls, tt.polls)
			}
			if inspected != tt.inspects {
				t.Errorf("inspected %d times, want %d (not-found is not retried)", inspected, tt.inspects)
			}
		})
	}
}

func TestWaiterEngineErrors(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "unix", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	complete := withExit(at("a", swarm.TaskStateComplete, 0), "c-a", 0, "")
	tests := []struct {
		name      string
		steps     []step
		reconnect time.Duration
		outcome   Outcome
		engineErr bool
		polls     int // at least
		maxPolls  int
	}{
		{
			name: "connection refused twice, then the tasks",
			steps: []step{
				tasksOf(at("a", swarm.TaskStateRunning, 0)),
				{err: refused},
				{err: fmt.Errorf("list tasks: %w", syscall.ECONNREFUSED)},
				tasksOf(complete),
			},
			reconnect: 3 * time.Second,
			outcome:   Succeeded,
			polls:     4,
			maxPolls:  4,
		},
		{
			name:      "a permanent error is not retried",
			steps:     []step{{err: cerrdefs.ErrInvalidArgument.WithMessage("bad filter")}},
			reconnect: 3 * time.Second,
			engineErr: true,
			polls:     1,
			maxPolls:  1,
		},
		{
			name:      "unreachable longer than Reconnect",
			steps:     []step{{err: refused}},
			reconnect: 300 * time.Millisecond,
			engineErr: true,
			polls:     2,
			maxPolls:  20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{steps: tt.steps}
			clock := autoClock(t)
			w := newWaiter(&fakeTasks{taskList: s.next, inspect: foundService}, clock, Policy{MaxRuns: 7, Delay: 30 * time.Second})
			w.Reconnect = tt.reconnect
			v, err := w.Watch(context.Background(), "svc1", func(Verdict) {})
			if tt.engineErr {
				var ee *EngineError
				if !errors.As(err, &ee) {
					t.Fatalf("err = %v (%T), want *EngineError", err, err)
				}
				if ee.ExitCode() != ExitEngine || !strings.Contains(ee.Error(), "svc1") {
					t.Errorf("engine error %q, exit %d", ee.Error(), ee.ExitCode())
				}
			} else {
				if err != nil {
					t.Fatalf("Watch: %v", err)
				}
				if v.Outcome != tt.outcome {
					t.Errorf("outcome = %s (%s), want %s", v.Outcome, v.Reason, tt.outcome)
				}
			}
			if s.calls < tt.polls || s.calls > tt.maxPolls {
				t.Errorf("TaskList called %d times, want %d..%d", s.calls, tt.polls, tt.maxPolls)
			}
		})
	}
}

// TestWaiterSaysWhenTheEngineIsAway: one line when the engine stops
// answering, with its reason, one when it is back, never one per retry.
func TestWaiterSaysWhenTheEngineIsAway(t *testing.T) {
	leaderless := cerrdefs.ErrInternal.WithMessage("The swarm does not have a leader. It's possible that too few managers are online.")
	s := &script{steps: []step{
		tasksOf(at("a", swarm.TaskStateRunning, 0)),
		{err: leaderless}, {err: leaderless}, {err: leaderless},
		tasksOf(at("a", swarm.TaskStateRunning, 0)),
		{err: leaderless},
		tasksOf(withExit(at("a", swarm.TaskStateComplete, 0), "c-a", 0, "")),
	}}
	clock := autoClock(t)
	w := newWaiter(&fakeTasks{taskList: s.next, inspect: foundService}, clock, Policy{MaxRuns: 7, Delay: 30 * time.Second})
	w.Reconnect = time.Hour
	var said []string
	w.OnEngineDown = func(reason string) { said = append(said, "down: "+reason) }
	w.OnEngineBack = func(time.Duration) { said = append(said, "back") }
	v, err := w.Watch(context.Background(), "svc1", func(Verdict) {})
	if err != nil || v.Outcome != Succeeded {
		t.Fatalf("Watch = %s, %v; want succeeded", v.Outcome, err)
	}
	want := []string{"down: " + leaderless.Error(), "back", "down: " + leaderless.Error(), "back"}
	if fmt.Sprint(said) != fmt.Sprint(want) {
		t.Errorf("said %q, want %q", said, want)
	}
}

func TestWaiterInspectFailsAtStart(t *testing.T) {
	engine := &fakeTasks{
		taskList: func(context.Context, client.TaskListOptions) ([]swarm.Task, error) {
			t.Error("TaskList called after the service could not be inspected")
			return nil, nil
		},
		inspect: func(context.Context, string) (swarm.Service, error) {
			return swarm.Service{}, cerrdefs.ErrPermissionDenied.WithMessage("not a swarm manager")
		},
	}
	_, err := newWaiter(engine, autoClock(t), Policy{MaxRuns: 1}).Watch(context.Background(), "svc1", func(Verdict) {})
	var ee *EngineError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "not a swarm manager") {
		t.Errorf("err = %v (%T), want *EngineError with the engine's message", err, err)
	}
}

func TestWaiterCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	polls := 0
	engine := &fakeTasks{
		taskList: func(context.Context, client.TaskListOptions) ([]swarm.Task, error) {
			polls++
			if polls == 3 {
				cancel()
			}
			return []swarm.Task{at("a", swarm.TaskStateRunning, 0)}, nil
		},
		inspect: foundService,
	}
	v, err := newWaiter(engine, autoClock(t), Policy{MaxRuns: 7}).Watch(ctx, "svc1", func(Verdict) {})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if v.Outcome != Running || len(v.Attempts) != 1 {
		t.Errorf("last verdict = %s with %d attempts, want the running one", v.Outcome, len(v.Attempts))
	}
	if polls > 10 {
		t.Errorf("polled %d times after cancel", polls)
	}
}
