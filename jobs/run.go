package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/logs"
)

// RunOptions are the flags that shape how a run is watched and ended.
type RunOptions struct {
	Timeout           time.Duration // --timeout when given; 0: the job's x-jobrun timeout, else DefaultTimeout
	TimeoutFlag       string        // the flag that set Timeout, for the verdict; "": --timeout
	DefaultTimeout    time.Duration // 0: none
	Keep              bool          // leave the job service in place when it ends
	Force             bool          // run even if this version already succeeded
	DetachOnInterrupt bool          // on Ctrl-C leave the job running
	RegistryAuth      string        // X-Registry-Auth for the image's registry
	RegistryAuthErr   string        // why the credentials could not be read, if they could not
	QueryRegistry     bool          // pin the image's digest, as docker stack deploy does
	KeepRuns          int           // runs of the job whose records stay; 0: prune nothing
	DrainTimeout      time.Duration // how long to wait for an ended attempt's last output
	Fast, Slow        time.Duration // poll intervals
	Reconnect         time.Duration // how long the engine may be unreachable
}

// WithPacing fills in how a run polls and waits where the caller left it
// unset: fast while tasks change, and through an engine restart of up to two
// minutes. The drain's own cap is the log source's (drain); this one only
// guards against a stuck read.
func (o RunOptions) WithPacing(drain time.Duration) RunOptions {
	if o.Fast == 0 {
		o.Fast = 100 * time.Millisecond
	}
	if o.Slow == 0 {
		o.Slow = time.Second
	}
	if o.Reconnect == 0 {
		o.Reconnect = 2 * time.Minute
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = drain + 30*time.Second
	}
	return o
}

// Runner runs jobs: one service each, watched to a verdict, then ended by
// the end-of-run rules (finish).
type Runner struct {
	Engine Engine
	// Containers, if set, is the engine jobrun talks to, whose exited
	// containers of a removed job are reaped (reap).
	Containers ContainerAPI
	Logs       logs.Source
	LogPlace   LogPlace // where a CloudWatch source reads, for the record
	Report     Reporter
	Records    Records
	Now        func() time.Time
	After      func(time.Duration) <-chan time.Time
	Opts       RunOptions
	Origin     Origin // who runs it, for the record
	// Networks, if set, makes a network of the job's that was removed
	// under it (docker stack rm under way) again, and the create is tried
	// again; else the run asks for the stack to be deployed.
	Networks NetworkMaker
}

// nodeGrace is how long an attempt may sit on a down node. Swarm declares a
// node down after missing heartbeats; it then may restart the task elsewhere.
const nodeGrace = 60 * time.Second

// outputTail is how much of each attempt's output is kept with its record.
const outputTail = 128 << 10

// Run runs the job to a verdict: acquire its service (the lock), watch it,
// finish. The record is returned in every case where the job was started or
// found; the error says why the run did not succeed.
func (r *Runner) Run(ctx context.Context, job Job) (Record, error) {
	rec := r.newRecord(job)
	if !r.Opts.Force {
		if prev, ok, err := r.alreadySucceeded(ctx, job); err != nil {
			return rec, err
		} else if ok {
			return r.skip(prev), nil
		}
	}
	l, err := r.acquire(ctx, &job)
	if err != nil {
		return rec, err
	}
	if !l.owner {
		rec.RunID, rec.Attached, rec.MaxRuns = job.RunID, true, job.Policy.MaxRuns
	}
	if l.image != "" {
		rec.Image = l.image
	}
	if l.owner && !r.Opts.Force {
		// Another jobrun may have recorded a success between the check above
		// and our create: never run a succeeded version twice.
		if prev, ok, err := r.alreadySucceeded(ctx, job); err == nil && ok {
			if r.stop(ctx, job, l.serviceID, false) {
				_ = r.remove(ctx, job, l.serviceID)
			}
			return r.skip(prev), nil
		}
	}
	return r.follow(ctx, job, l, rec)
}

// newRecord is the record of a run this jobrun starts now.
func (r *Runner) newRecord(job Job) Record {
	rec := newRecord(job, r.Logs, r.LogPlace, r.Now())
	rec.Origin = r.Origin
	return rec
}

// Attach follows a run that another jobrun owns (jobrun logs --follow) to
// its verdict; it stops nothing and records nothing.
func (r *Runner) Attach(ctx context.Context, job Job, svc swarm.Service) (Record, error) {
	rec := newRecord(job, r.Logs, r.LogPlace, svc.CreatedAt)
	rec.Attached = true
	return r.follow(ctx, job, lease{serviceID: svc.ID}, rec)
}

// JobOfService is the job that a service of jobrun's runs, as its labels
// describe it.
func JobOfService(stack, name string, svc swarm.Service) Job {
	labels := svc.Spec.Labels
	return Job{
		Name: name, Stack: stack, Version: labels[LabelVersion], RunID: labels[LabelRunID],
		Spec: svc.Spec, Policy: policyFromLabels(labels, 0), Output: outputRulesFromLabels(labels),
	}
}

// follow watches the leased service to a verdict and finishes the run.
func (r *Runner) follow(ctx context.Context, job Job, l lease, rec Record) (Record, error) {
	out := newFollowers(ctx, job, r.Logs, r.Report)
	v, err := r.watch(ctx, job, l, out)
	if err != nil {
		// The engine stayed out of reach: jobrun can stop nothing, so it
		// says where the job may still be running.
		rec.Attempts, rec.Ended = v.Attempts, r.Now()
		_, rec.LogNote = out.drain(r.After(0))
		return rec, &EngineError{Msg: fmt.Sprintf("lost the engine while waiting for %s; the job may still be running: check with docker service ps %s", job.Name, job.Spec.Name), Err: err}
	}
	return r.finish(ctx, job, l, v, out, rec)
}

// watch polls the job's tasks to a verdict (Waiter), printing what changed
// and following each attempt's output. Ctrl-C and --timeout end the watch
// with their own outcome; only a lost engine is an error.
func (r *Runner) watch(ctx context.Context, job Job, l lease, out *followers) (Verdict, error) {
	waitCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout, from := r.timeout(job)
	if timeout > 0 {
		go r.expire(waitCtx, r.After(timeout), cancel)
	}
	wake, stopWake := r.containerEvents(waitCtx, l.serviceID, out.containerDied)
	defer stopWake()
	w := Waiter{
		Engine: r.Engine, Policy: job.Policy, Now: r.Now, After: r.After,
		Fast: r.Opts.Fast, Slow: r.Opts.Slow, NodeCheckEvery: 10 * time.Second, Reconnect: r.Opts.Reconnect,
		NodeGrace: nodeGrace, Wake: wake, Refine: out.retryVerdict,
		OnNodeDown: func(id string, n DownNode) {
			r.Report.Notice(job.Name, fmt.Sprintf("node %s (%s) is down; its attempt fails if Swarm does not move it within %s", n.Hostname, shortID(id), nodeGrace))
			out.nodeDown(id, n.Hostname)
		},
		OnEngineDown: func(reason string) {
			r.Report.Notice(job.Name, fmt.Sprintf("the engine is not answering (%s): waiting for it up to %s; the job runs on", reason, r.Opts.Reconnect))
		},
		OnEngineBack: func(after time.Duration) {
			r.Report.Notice(job.Name, fmt.Sprintf("the engine answers again, after %s", after))
		},
	}
	var last Verdict
	v, err := w.Watch(waitCtx, l.serviceID, func(v Verdict) {
		r.update(job, last, v)
		out.update(v)
		last = v
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		v.Outcome, v.Reason, err = Interrupted, "interrupted", nil
	case errors.Is(context.Cause(waitCtx), errTimedOut):
		v.Outcome, v.Reason, err = TimedOut, fmt.Sprintf("still running after %s %s", from, timeout), nil
	}
	return v, err
}

// timeout is how long the job may run, and what set it: --timeout when
// given, else the job's x-jobrun timeout, else the default.
func (r *Runner) timeout(job Job) (time.Duration, string) {
	switch {
	case r.Opts.Timeout > 0 && r.Opts.TimeoutFlag != "":
		return r.Opts.Timeout, r.Opts.TimeoutFlag
	case r.Opts.Timeout > 0:
		return r.Opts.Timeout, "--timeout"
	case job.Timeout > 0:
		return job.Timeout, ExtensionKey + " timeout"
	}
	return r.Opts.DefaultTimeout, "--timeout"
}

// errTimedOut is why a watch that ran past its timeout was ended.
var errTimedOut = errors.New("the run's timeout passed")

// expire ends the watch (ctx) once its timeout has passed (expired) on the
// run's clock, which tests drive, as every other wait of a run.
func (r *Runner) expire(ctx context.Context, expired <-chan time.Time, cancel context.CancelCauseFunc) {
	select {
	case <-expired:
		cancel(errTimedOut)
	case <-ctx.Done():
	}
}

// update prints each attempt that appeared or changed state since old.
func (r *Runner) update(job Job, old, new Verdict) {
	was := make(map[string]Attempt, len(old.Attempts))
	for _, a := range old.Attempts {
		was[a.TaskID] = a
	}
	for _, a := range new.Attempts {
		if prev, ok := was[a.TaskID]; !ok || prev.State != a.State {
			r.Report.Attempt(job.Name, a, job.Policy.MaxRuns)
		}
	}
}

// containerEvents tells onDie, and wakes the poll loop, when one of the
// job's containers stops on the engine jobrun talks to. The events API has
// no task events and reports only its own node's containers, so this only
// speeds up the common case of a job on that node; polling still decides
// everything.
func (r *Runner) containerEvents(ctx context.Context, serviceID string, onDie func(containerID string)) (<-chan struct{}, func()) {
	ctx, cancel := context.WithCancel(ctx)
	wake := make(chan struct{}, 1)
	died := r.Engine.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).Add("type", string(events.ContainerEventType)).Add("event", string(events.ActionDie)).Add("label", "com.docker.swarm.service.id="+serviceID)})
	msgs, errs := died.Messages, died.Err
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
