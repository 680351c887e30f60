package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"

	"jobrun/retry"
)

// wakeWindow is how long after a container stopped the waiter keeps
// polling closely for its task's end.
const wakeWindow = time.Second

// TaskSource is what the waiter asks of the engine. The events API has no
// task events, so tasks are polled.
type TaskSource interface {
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	ServiceInspectWithRaw(ctx context.Context, serviceID string, options swarm.ServiceInspectOptions) (swarm.Service, []byte, error)
	NodeInspectWithRaw(ctx context.Context, nodeID string) (swarm.Node, []byte, error)
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
	outage       *outage
}

// Watch returns the final verdict, or the last one seen with ctx's error.
// onChange gets every verdict whose attempts differ from the one before.
func (w Waiter) Watch(ctx context.Context, serviceID string, onChange func(Verdict)) (Verdict, error) {
	var last Verdict
	w.outage = &outage{now: w.Now, onDown: w.OnEngineDown, onBack: w.OnEngineBack}
	svc, err := w.inspect(ctx, serviceID)
	if errdefs.IsNotFound(err) {
		return Verdict{Outcome: Removed, Reason: "the job service was removed outside jobrun"}, nil
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
	opts := swarm.TaskListOptions{Filters: serviceFilter(serviceID)}
	for {
		var tasks []swarm.Task
		err := w.retry(ctx, func() error {
			var err error
			start := w.Now()
			tasks, err = w.Engine.TaskList(ctx, opts)
			w.outage.observe(start, err)
			return err
		})
		if errdefs.IsNotFound(err) { // the engine resolves the service filter
			last.Outcome, last.Reason = Removed, "the job service was removed outside jobrun"
			return last, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, &EngineError{Msg: "list tasks of " + serviceID, Err: err}
		}
		v := Stranded(Judge(tasks, iteration, w.Policy, w.Now()), down, w.NodeGrace, w.Now())
		switch {
		case changed(last, v):
			onChange(v)
			interval = w.Fast
		case w.Now().Sub(wokeAt) < wakeWindow:
			// A container stopped; Swarm reports its task ended some 100
			// to 300 ms later: keep looking closely until it does.
			interval = w.Fast / 2
		default:
			if interval = interval * 3 / 2; interval > w.Slow {
				interval = w.Slow
			}
		}
		last = v
		if v.Outcome != Running {
			return v, nil
		}
		// A removed service shows as NotFound from TaskList; an empty list
		// (no task yet, or the service going away) is checked here.
		if len(tasks) == 0 {
			if _, err := w.inspect(ctx, serviceID); errdefs.IsNotFound(err) {
				last.Outcome, last.Reason = Removed, "the job service was removed outside jobrun"
				return last, nil
			} else if err != nil {
				if ctx.Err() != nil {
					return last, ctx.Err()
				}
				return last, err
			}
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
		node, _, err := w.Engine.NodeInspectWithRaw(ctx, a.NodeID)
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
		svc, _, err = w.Engine.ServiceInspectWithRaw(ctx, id, swarm.ServiceInspectOptions{})
		w.outage.observe(start, err)
		return err
	})
	if err != nil && !errdefs.IsNotFound(err) && ctx.Err() == nil {
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

func serviceFilter(id string) filters.Args { return filters.NewArgs(filters.Arg("service", id)) }
