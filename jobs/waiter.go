package jobs

import (
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/retry"
)

// wakeWindow is how long after a container stopped the waiter keeps
// polling closely for its task's end.
const wakeWindow = time.Second

// TaskSource is what the waiter asks of the engine. The events API has no
// task events, so tasks are polled.
type TaskSource interface {
	TaskList(ctx context.Context, options client.TaskListOptions) (client.TaskListResult, error)
	ServiceInspect(ctx context.Context, serviceID string, options client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	NodeInspect(ctx context.Context, nodeID string, options client.NodeInspectOptions) (client.NodeInspectResult, error)
}

// Waiter polls a job's tasks until the verdict is final: fast while states
// change, backing off to Slow while a task just runs.
type Waiter struct {
	Engine TaskSource
	Policy Policy
	Now    func() time.Time
	After  func(time.Duration) <-chan time.Time
	Fast   time.Duration
	Slow   time.Duration
	// NodeCheckEvery is how often the nodes of running attempts are
	// checked. Swarm itself takes 10 s or more to call a node down.
	NodeCheckEvery time.Duration
	// Reconnect bounds how long the engine may be unreachable before the
	// wait fails.
	Reconnect time.Duration
	// NodeGrace is how long an attempt may sit on a down node before the
	// run fails (Swarm may strand the task there).
	NodeGrace time.Duration
	// OnNodeDown is told once about each node that goes down under an attempt.
	OnNodeDown func(nodeID string, n DownNode)
	// Wake, when it delivers, means a task is about to change: poll now,
	// and faster than Fast for a moment.
	Wake <-chan struct{}
	// OnEngineDown is told once when the engine stops answering (with its
	// reason: unreachable, no leader), OnEngineBack once when it answers
	// again.
	OnEngineDown func(reason string)
	OnEngineBack func(after time.Duration)
	// Refine, when set, adds to each verdict of the tasks what they cannot
	// say: what the attempts printed (retry-when).
	Refine func(Verdict) Verdict
	outage *outage
}

// removedOutside is the verdict on a service removed by someone else.
const removedOutside = "the job service was removed outside jobrun"

// Watch returns the final verdict, or the last one seen with ctx's error.
// onChange gets every verdict whose attempts differ from the one before.
// Each round queries the tasks, judges them, checks for the end and waits:
// fast while they change, backing off while a task just runs.
func (w Waiter) Watch(ctx context.Context, serviceID string, onChange func(Verdict)) (Verdict, error) {
	var last Verdict
	w.outage = &outage{now: w.Now, onDown: w.OnEngineDown, onBack: w.OnEngineBack}
	svc, err := w.inspect(ctx, serviceID)
	if cerrdefs.IsNotFound(err) {
		return Verdict{Outcome: Removed, Reason: removedOutside}, nil
	}
	if err != nil {
		return last, err
	}
	var iteration *uint64
	if svc.JobStatus != nil {
		iteration = &svc.JobStatus.JobIteration.Index
	}
	interval := w.Fast
	var wokeAt time.Time // when a container of the job last stopped
	lastNodeCheck := w.Now()
	down := map[string]DownNode{}
	for {
		tasks, err := w.listTasks(ctx, serviceID)
		if cerrdefs.IsNotFound(err) { // the engine resolves the service filter
			last.Outcome, last.Reason = Removed, removedOutside
			return last, nil
		}
		if err != nil {
			return last, err
		}
		v := Stranded(Judge(tasks, iteration, w.Policy, w.Now()), down, w.NodeGrace, w.Now())
		if w.Refine != nil {
			v = w.Refine(v)
		}
		if changed(last, v) {
			onChange(v)
		}
		interval = w.pace(interval, changed(last, v), wokeAt)
		last = v
		if v.Outcome != Running {
			return v, nil
		}
		if removed, err := w.goneWithNoTask(ctx, serviceID, tasks); err != nil {
			return last, err
		} else if removed {
			last.Outcome, last.Reason = Removed, removedOutside
			return last, nil
		}
		if w.Now().Sub(lastNodeCheck) >= w.NodeCheckEvery {
			lastNodeCheck = w.Now()
			w.checkNodes(ctx, v, down)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-w.After(interval):
		case <-w.Wake:
			wokeAt = w.Now()
		}
	}
}

// listTasks lists the service's tasks, retrying while the engine is away
// (up to Reconnect) and telling the outage what it saw.
func (w Waiter) listTasks(ctx context.Context, serviceID string) ([]swarm.Task, error) {
	var tasks []swarm.Task
	err := w.retry(ctx, func() error {
		var err error
		start := w.Now()
		list, listErr := w.Engine.TaskList(ctx, client.TaskListOptions{Filters: serviceFilter(serviceID)})
		tasks, err = list.Items, listErr
		w.outage.observe(start, err)
		return err
	})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return tasks, err
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	return nil, &EngineError{Msg: "list tasks of " + serviceID, Err: err}
}

// pace is the wait before the next poll: Fast after a change, closer
// still just after a container stopped (Swarm reports its task ended some
// 100 to 300 ms later), else backing off to Slow.
func (w Waiter) pace(interval time.Duration, changed bool, wokeAt time.Time) time.Duration {
	switch {
	case changed:
		return w.Fast
	case w.Now().Sub(wokeAt) < wakeWindow:
		return w.Fast / 2
	}
	return min(interval*3/2, w.Slow)
}

// goneWithNoTask tells a service removed outside jobrun from one with no
// task yet: a removed service shows as NotFound from TaskList, but an empty
// list (no task yet, or the service going away) must be checked.
func (w Waiter) goneWithNoTask(ctx context.Context, serviceID string, tasks []swarm.Task) (bool, error) {
	if len(tasks) > 0 {
		return false, nil
	}
	_, err := w.inspect(ctx, serviceID)
	switch {
	case cerrdefs.IsNotFound(err):
		return true, nil
	case err != nil && ctx.Err() != nil:
		return false, ctx.Err()
	}
	return false, err
}

// checkNodes notes the nodes of unfinished attempts that the manager reports
// down. A failed look-up is no evidence either way and is skipped.
func (w Waiter) checkNodes(ctx context.Context, v Verdict, down map[string]DownNode) {
	for _, a := range v.Attempts {
		if a.Done() || a.NodeID == "" {
			continue
		}
		if _, seen := down[a.NodeID]; seen {
			continue
		}
		inspected, err := w.Engine.NodeInspect(ctx, a.NodeID, client.NodeInspectOptions{})
		node := inspected.Node
		if err != nil || node.Status.State != swarm.NodeStateDown {
			continue
		}
		d := DownNode{Hostname: node.Description.Hostname, Since: w.Now()}
		down[a.NodeID] = d
		if w.OnNodeDown != nil {
			w.OnNodeDown(a.NodeID, d)
		}
	}
}

func (w Waiter) inspect(ctx context.Context, id string) (swarm.Service, error) {
	var svc swarm.Service
	err := w.retry(ctx, func() error {
		var err error
		start := w.Now()
		inspected, inspectedErr := w.Engine.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
		svc, err = inspected.Service, inspectedErr
		w.outage.observe(start, err)
		return err
	})
	if err != nil && !cerrdefs.IsNotFound(err) && ctx.Err() == nil {
		return svc, &EngineError{Msg: fmt.Sprintf("inspect service %s", id), Err: err}
	}
	return svc, err
}

// retry runs an engine call through an outage of up to Reconnect, on the
// waiter's clock.
func (w Waiter) retry(ctx context.Context, call func() error) error {
	clock := retry.Clock{Now: w.Now, After: w.After}
	return clock.Do(ctx, clock.Policy(100*time.Millisecond, 2*time.Second, w.Reconnect), call)
}

// changed reports whether any attempt appeared or moved since the last poll.
func changed(a, b Verdict) bool {
	if len(a.Attempts) != len(b.Attempts) || a.Outcome != b.Outcome {
		return true
	}
	for i := range a.Attempts {
		x, y := a.Attempts[i], b.Attempts[i]
		if x.TaskID != y.TaskID || x.State != y.State || x.ContainerID != y.ContainerID || x.NodeID != y.NodeID {
			return true
		}
	}
	return false
}

func serviceFilter(id string) client.Filters { return make(client.Filters).Add("service", id) }
