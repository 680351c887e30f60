package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"jobrun/logs"
)

// RunOptions are the flags that shape how a run is watched and ended.
type RunOptions struct {
	Timeout           time.Duration // 0: none
	Keep              bool          // leave the job service in place when it ends
	Force             bool          // run even if this version already succeeded
	DetachOnInterrupt bool          // on Ctrl-C leave the job running
	RegistryAuth      string        // X-Registry-Auth for the image's registry
	DrainTimeout      time.Duration // how long to wait for an ended attempt's last output
	Fast, Slow        time.Duration // poll intervals
	Reconnect         time.Duration // how long the engine may be unreachable
}

// paced sets how every run polls and waits; the user's flags set the rest.
// The drain's own cap is the log source's (drain); this one only guards
// against a stuck read.
func (o RunOptions) paced(drain time.Duration) RunOptions {
	o.Fast, o.Slow, o.Reconnect = 100*time.Millisecond, time.Second, 2*time.Minute
	o.DrainTimeout = drain + 30*time.Second
	return o
}

// Runner runs jobs: one service each, watched to a verdict, then recorded
// and removed.
type Runner struct {
	Engine   client.APIClient
	Logs     logs.Source
	LogPlace LogPlace // where a CloudWatch source reads, for the record
	Report   Reporter
	Records  Records
	Now      func() time.Time
	Opts     RunOptions
}

// nodeGrace is how long an attempt may sit on a down node. Swarm declares a
// node down after missing heartbeats; it then may restart the task elsewhere.
const nodeGrace = 60 * time.Second

// outputTail is how much of each attempt's output is kept with its record.
const outputTail = 128 << 10

// Run runs the job to a verdict. The record is returned in every case where
// the job was started or found; the error says why the run did not succeed.
func (r *Runner) Run(ctx context.Context, job Job) (Record, error) {
	rec := Record{
		RunID: job.RunID, Job: job.Name, Stack: job.Stack, Version: job.Version,
		Service: job.Spec.Name, MaxRuns: job.Policy.MaxRuns, Started: r.Now(),
		LogSource: r.Logs.Name(), LogGroup: r.LogPlace.Group, LogRegion: r.LogPlace.Region, LogEndpoint: r.LogPlace.Endpoint, Mode: "replicated-job",
	}
	if cs := job.Spec.TaskTemplate.ContainerSpec; cs != nil {
		rec.Image = cs.Image
	}
	if job.Legacy {
		rec.Mode = "replicated"
	}
	if !r.Opts.Force {
		if prev, ok, err := r.succeeded(ctx, job); err != nil {
			return rec, err
		} else if ok {
			return r.skip(prev), nil
		}
	}
	id, owner, err := r.acquire(ctx, &job)
	if err != nil {
		return rec, err
	}
	if !owner {
		rec.RunID, rec.Attached, rec.MaxRuns = job.RunID, true, job.Policy.MaxRuns
	}
	if owner && !r.Opts.Force {
		// Another jobrun may have recorded a success between the check above
		// and our create: never run a succeeded version twice.
		if prev, ok, err := r.succeeded(ctx, job); err == nil && ok {
			r.remove(ctx, id, job)
			return r.skip(prev), nil
		}
	}
	return r.watch(ctx, job, id, owner, rec)
}

func (r *Runner) skip(prev Record) Record {
	r.Report.Notice(prev.Job, fmt.Sprintf("version %s already succeeded (run %s, %s): not running it again; --force runs it again",
		prev.Version, prev.RunID, prev.Ended.Format(time.RFC3339)))
	prev.Skipped = true
	return prev
}

func (r *Runner) succeeded(ctx context.Context, job Job) (Record, bool, error) {
	recs, err := r.Records.List(ctx, job.Stack, job.Name)
	if err != nil {
		return Record{}, false, &EngineError{Msg: "read run records", Err: err}
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Version == job.Version && recs[i].Outcome == Succeeded {
			return recs[i], true, nil
		}
	}
	return Record{}, false, nil
}

// acquire creates the job service. Swarm service names are unique, so the
// create is the lock: whoever creates it owns the run; a second jobrun for
// the same version attaches to it, and one for another version is refused.
func (r *Runner) acquire(ctx context.Context, job *Job) (id string, owner bool, err error) {
	for try := 0; try < 3; try++ {
		resp, err := r.Engine.ServiceCreate(ctx, job.Spec, swarm.ServiceCreateOptions{EncodedRegistryAuth: r.Opts.RegistryAuth})
		if err == nil {
			for _, w := range resp.Warnings {
				r.Report.Notice(job.Name, "engine warning: "+w)
			}
			r.Report.Notice(job.Name, fmt.Sprintf("started %s as service %s (run %s, at most %d attempts, %s apart)",
				job.Version, job.Spec.Name, job.RunID, job.Policy.MaxRuns, job.Policy.Delay))
			return resp.ID, true, nil
		}
		if !errdefs.IsConflict(err) && !strings.Contains(err.Error(), "already exists") {
			if errdefs.IsInvalidParameter(err) {
				return "", false, &UsageError{Msg: fmt.Sprintf("the engine refused job %s: %s", job.Name, oneLine(err))}
			}
			return "", false, &EngineError{Msg: "create service " + job.Spec.Name, Err: err}
		}
		svc, _, err := r.Engine.ServiceInspectWithRaw(ctx, job.Spec.Name, swarm.ServiceInspectOptions{})
		if errdefs.IsNotFound(err) {
			continue // it ended between our create and inspect: try again
		}
		if err != nil {
			return "", false, &EngineError{Msg: "inspect service " + job.Spec.Name, Err: err}
		}
		labels := svc.Spec.Labels
		if labels[LabelJob] == "" {
			return "", false, &ConflictError{Msg: fmt.Sprintf("a service named %s exists that jobrun did not create: remove it (docker service rm %s)", job.Spec.Name, job.Spec.Name)}
		}
		if labels[LabelVersion] == job.Version {
			job.RunID = labels[LabelRunID]
			if n, err := strconv.Atoi(labels[LabelMaxRuns]); err == nil {
				job.Policy.MaxRuns = n
			}
			if d, err := time.ParseDuration(labels[LabelDelay]); err == nil {
				job.Policy.Delay = d
			}
			r.Report.Notice(job.Name, fmt.Sprintf("version %s is already running (run %s): following it", job.Version, job.RunID))
			return svc.ID, false, nil
		}
		tasks, err := r.Engine.TaskList(ctx, swarm.TaskListOptions{Filters: serviceFilter(svc.ID)})
		if err != nil {
			return "", false, &EngineError{Msg: "list tasks of " + job.Spec.Name, Err: err}
		}
		v := Judge(tasks, nil, policyFromLabels(labels), r.Now())
		if v.Outcome == Running {
			return "", false, &ConflictError{Msg: fmt.Sprintf("%s version %s is running (run %s, since %s): wait for it, or stop it with docker service rm %s",
				job.Name, labels[LabelVersion], labels[LabelRunID], svc.CreatedAt.Format(time.RFC3339), job.Spec.Name)}
		}
		// A finished run left behind with --keep: it no longer runs anything.
		r.Report.Notice(job.Name, fmt.Sprintf("removing the finished service of version %s (run %s), left behind by an earlier run", labels[LabelVersion], labels[LabelRunID]))
		if err := r.Engine.ServiceRemove(ctx, svc.ID); err != nil && !errdefs.IsNotFound(err) {
			return "", false, &EngineError{Msg: "remove service " + job.Spec.Name, Err: err}
		}
	}
	return "", false, &ConflictError{Msg: fmt.Sprintf("service %s keeps reappearing: another jobrun is starting %s; try again when it ends", job.Spec.Name, job.Name)}
}

func policyFromLabels(labels map[string]string) Policy {
	p := Policy{MaxRuns: defaultMaxTries + 1, Delay: defaultDelay}
	if n, err := strconv.Atoi(labels[LabelMaxRuns]); err == nil {
		p.MaxRuns = n
	}
	if d, err := time.ParseDuration(labels[LabelDelay]); err == nil {
		p.Delay = d
	}
	return p
}

// follower copies one attempt's output while it runs.
type follower struct {
	ended     chan struct{} // closed when the attempt has ended
	endedOnce sync.Once
	done      chan struct{} // closed when all its output was copied
	cancel    context.CancelFunc
	tail      *tailBuffer
	err       error
}

func (f *follower) end() { f.endedOnce.Do(func() { close(f.ended) }) }

func (r *Runner) watch(ctx context.Context, job Job, id string, owner bool, rec Record) (Record, error) {
	waitCtx, cancelWait := ctx, context.CancelFunc(func() {})
	if r.Opts.Timeout > 0 {
		waitCtx, cancelWait = context.WithTimeout(ctx, r.Opts.Timeout)
	}
	defer cancelWait()

	// Output is read on its own context: an interrupt or a timeout still
	// lets the output read so far reach the screen and the record.
	logCtx, cancelLogs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelLogs()
	followers := map[string]*follower{}
	var order []string
	// byContainer lets the events goroutine end a follower the moment its
	// container dies: reading the last output then overlaps the poll that
	// sees the task Complete.
	var mu sync.Mutex
	byContainer := map[string]*follower{}
	seen := map[string]swarm.TaskState{}

	onChange := func(v Verdict) {
		for _, a := range v.Attempts {
			if s, ok := seen[a.TaskID]; !ok || s != a.State {
				seen[a.TaskID] = a.State
				r.Report.Attempt(job.Name, a, job.Policy.MaxRuns)
			}
			f := followers[a.TaskID]
			if f == nil && a.Started() {
				f = &follower{ended: make(chan struct{}), done: make(chan struct{}), tail: &tailBuffer{max: outputTail}}
				fctx, cancel := context.WithCancel(logCtx)
				f.cancel = cancel
				followers[a.TaskID], order = f, append(order, a.TaskID)
				mu.Lock()
				byContainer[a.ContainerID] = f
				mu.Unlock()
				t := taskOf(job, a)
				stdout := io.MultiWriter(r.Report.Output(job.Name, a.Number, false), f.tail)
				stderr := io.MultiWriter(r.Report.Output(job.Name, a.Number, true), f.tail)
				// One attempt's output at a time, in order: an attempt's last
				// lines may still be arriving when the next one starts.
				var prev <-chan struct{}
				if len(order) > 1 {
					prev = followers[order[len(order)-2]].done
				}
				go func() {
					defer close(f.done)
					if prev != nil {
						select {
						case <-prev:
						case <-fctx.Done():
							return
						}
					}
					f.err = r.Logs.Follow(fctx, t, f.ended, stdout, stderr)
				}()
			}
			if f != nil && a.Done() {
				f.end()
			}
		}
	}
	w := Waiter{
		Engine: r.Engine, Policy: job.Policy, Now: r.Now, After: time.After,
		Fast: r.Opts.Fast, Slow: r.Opts.Slow, NodeCheckEvery: 10 * time.Second, Reconnect: r.Opts.Reconnect,
		NodeGrace: nodeGrace,
		OnNodeDown: func(id string, n DownNode) {
			r.Report.Notice(job.Name, fmt.Sprintf("node %s (%s) is down; its attempt fails if Swarm does not move it within %s", n.Hostname, shortID(id), nodeGrace))
		},
	}
	wake, stopWake := r.containerEvents(waitCtx, id, func(containerID string) {
		mu.Lock()
		defer mu.Unlock()
		if f := byContainer[containerID]; f != nil {
			f.end()
		}
	})
	defer stopWake()
	w.Wake = wake
	v, err := w.Watch(waitCtx, id, onChange)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		v.Outcome, v.Reason = Interrupted, "interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		v.Outcome, v.Reason = TimedOut, fmt.Sprintf("still running after --timeout %s", r.Opts.Timeout)
	default:
		// The engine stayed out of reach past --reconnect: jobrun cannot
		// stop the job either, so say where it may still be running.
		rec.Attempts, rec.Ended = v.Attempts, r.Now()
		r.drain(followers, order, &rec, 0)
		return rec, &EngineError{Msg: fmt.Sprintf("lost the engine while waiting for %s; the job may still be running: check with docker service ps %s", job.Name, job.Spec.Name), Err: err}
	}
	rec.Outcome, rec.Reason, rec.Attempts = v.Outcome, v.Reason, v.Attempts

	// Stop what must not go on before waiting for the last output, so a
	// timed-out or interrupted job stops now.
	stop := owner && (v.Outcome == TimedOut || (v.Outcome == Interrupted && !r.Opts.DetachOnInterrupt))
	// Cleanup runs even after an interrupt, each step with its own bound.
	cleanup := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	if stop {
		stopCtx, cancel := cleanup()
		r.remove(stopCtx, id, job)
		cancel()
		r.Report.Notice(job.Name, fmt.Sprintf("stopped the job: removed service %s", job.Spec.Name))
	} else if v.Outcome == Interrupted {
		r.Report.Notice(job.Name, fmt.Sprintf("left running: service %s (stop it with docker service rm %s)", job.Spec.Name, job.Spec.Name))
	}
	outputs := r.drain(followers, order, &rec, r.Opts.DrainTimeout)
	rec.Ended = r.Now()
	cleanCtx, cancelClean := cleanup()
	defer cancelClean()
	for i, a := range rec.Attempts {
		if a.Started() {
			rec.Attempts[i].LogStream = r.Logs.Location(taskOf(job, a))
		}
	}

	if v.Outcome == Removed && !owner {
		// The owner removes the service when the run ends: its record has the verdict.
		if found, ok, _ := r.Records.Find(cleanCtx, job.Stack, job.Name, job.RunID); ok {
			found.Attached = true
			rec = found
		}
	}
	if owner {
		// Record first, remove second: whoever finds the service gone finds
		// the record.
		if r.Logs.Name() != "engine" {
			outputs = nil
		}
		if err := r.Records.Save(cleanCtx, rec, outputs); err != nil {
			r.Report.Notice(job.Name, "warning: "+err.Error())
		}
		if !stop && !r.Opts.Keep && !(v.Outcome == Interrupted && r.Opts.DetachOnInterrupt) && v.Outcome != Removed {
			r.remove(cleanCtx, id, job)
		}
	}
	r.Report.Done(rec)
	if rec.Outcome != Succeeded {
		return rec, &VerdictError{Outcome: rec.Outcome}
	}
	return rec, nil
}

// containerEvents tells onDie, and wakes the poll loop, when one of the
// job's containers stops on the engine jobrun talks to. The events API has
// no task events and reports only its own node's containers, so this only
// speeds up the common case of a job on that node; polling still decides
// everything.
func (r *Runner) containerEvents(ctx context.Context, serviceID string, onDie func(containerID string)) (<-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(ctx)
	wake := make(chan struct{}, 1)
	msgs, errs := r.Engine.Events(ctx, events.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", string(events.ActionDie)),
		filters.Arg("label", "com.docker.swarm.service.id="+serviceID),
	)})
	go func() {
		for {
			select {
			case m := <-msgs:
				onDie(m.Actor.ID)
				select {
				case wake <- struct{}{}:
				default:
				}
			case <-errs: // the stream broke: polling alone goes on
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return wake, cancel
}

// drain waits up to timeout for each attempt's output to end, then stops
// reading, and returns what was kept of each attempt.
func (r *Runner) drain(followers map[string]*follower, order []string, rec *Record, timeout time.Duration) []AttemptOutput {
	for _, f := range followers {
		f.end() // the run is over: whatever still runs is being stopped
	}
	deadline := time.After(timeout)
	var outputs []AttemptOutput
	var notes []string
	for i, id := range order {
		f := followers[id]
		select {
		case <-f.done:
		case <-deadline:
			f.cancel()
			<-f.done
			notes = append(notes, fmt.Sprintf("attempt %d: output still arriving after %s; the rest was not read", i+1, timeout))
		}
		if f.err != nil {
			notes = append(notes, fmt.Sprintf("attempt %d: %v", i+1, f.err))
		}
		n := attemptNumber(rec.Attempts, id)
		outputs = append(outputs, AttemptOutput{Number: n, Output: append([]byte(nil), f.tail.Bytes()...), Truncated: f.tail.truncated})
	}
	if len(notes) > 0 {
		rec.LogNote = strings.Join(notes, "; ")
	}
	return outputs
}

func taskOf(job Job, a Attempt) logs.Task {
	cs := job.Spec.TaskTemplate.ContainerSpec
	return logs.Task{
		ID: a.TaskID, ServiceName: job.Spec.Name, ContainerID: a.ContainerID, NodeID: a.NodeID, Slot: a.Slot,
		TTY: cs != nil && cs.TTY,
	}
}

func attemptNumber(attempts []Attempt, taskID string) int {
	for _, a := range attempts {
		if a.TaskID == taskID {
			return a.Number
		}
	}
	return 0
}

func (r *Runner) remove(ctx context.Context, id string, job Job) {
	if err := r.Engine.ServiceRemove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		r.Report.Notice(job.Name, fmt.Sprintf("warning: could not remove service %s: %v: remove it with docker service rm %s", job.Spec.Name, err, job.Spec.Name))
	}
}
