package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// LabelStopped marks a job service that jobrun told to stop: it runs
// nothing more, but stays the job's lock until Swarm reports its tasks ended.
const LabelStopped = "io.jobrun.stopped"

// stopSlack is how long past the job's stop grace period jobrun waits for
// Swarm to report its tasks ended before saying it could not confirm it.
const stopSlack = 20 * time.Second

// stop makes sure no attempt of the job runs, or can start, on any node,
// and reports true once the manager says so. Removing the service is not
// enough: Engine 20.10 orphans a running job task (moby/moby#44312), and a
// condition-none job may be re-run by a later reconcile. Updating the
// service to ask for no completions (a replicated service: no replicas)
// makes Swarm shut its tasks down wherever they run, and no new one start;
// every engine since API 1.41 does that. With say, jobrun reports the stop.
func (r *Runner) stop(ctx context.Context, job Job, serviceID string, say bool) bool {
	if err := r.askToStop(ctx, serviceID); err != nil {
		if cerrdefs.IsNotFound(err) {
			return true
		}
		r.Report.Notice(job.Name, fmt.Sprintf("WARNING: could not stop service %s: %s: stop it with docker service rm %s, and check docker service ps %s", job.Spec.Name, OneLine(err), job.Spec.Name, job.Spec.Name))
		return false
	}
	deadline := r.Now().Add(stopGrace(job) + stopSlack)
	resent := false
	var live []Attempt // as the manager last listed them: none until it does
	for {
		list, err := r.Engine.TaskList(ctx, client.TaskListOptions{Filters: serviceFilter(serviceID)})
		tasks := list.Items
		if err == nil {
			live = liveAttempts(tasks)
			if len(live) == 0 {
				if say {
					r.Report.Notice(job.Name, fmt.Sprintf("stopped the job: Swarm reports no attempt of it running on any node (service %s)", job.Spec.Name))
				}
				return true
			}
		}
		if r.Now().After(deadline) || ctx.Err() != nil {
			what := "its tasks"
			if len(live) > 0 { // listed: an empty listing ended the wait
				// ctx may be what ended the wait: name the node and
				// container with a context of their own.
				descCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				what = r.describeLive(descCtx, live)
				cancel()
			}
			r.Report.Notice(job.Name, fmt.Sprintf("could not confirm the job stopped: Swarm still reports %s; service %s is kept as the job's lock until it ends (check with docker service ps %s)", what, job.Spec.Name, job.Spec.Name))
			return false
		}
		// A reconcile already under way when the update landed may still
		// start a task of the old iteration: ask once more.
		if !resent && len(live) > 0 && r.Now().After(deadline.Add(-stopSlack/2)) {
			resent = r.askToStop(ctx, serviceID) == nil
		}
		select {
		case <-ctx.Done():
		case <-r.After(r.Opts.Fast):
		}
	}
}

// askToStop updates the service to want nothing more run, and marks it.
func (r *Runner) askToStop(ctx context.Context, serviceID string) error {
	for try := 0; ; try++ {
		inspected, err := r.Engine.ServiceInspect(ctx, serviceID, client.ServiceInspectOptions{})
		svc := inspected.Service
		if err != nil {
			return err
		}
		spec := svc.Spec
		zero := uint64(0)
		switch {
		case spec.Mode.ReplicatedJob != nil:
			// MaxConcurrent stays: with both at 0 swarmkit's reconciler
			// returns before it shuts the old tasks down.
			spec.Mode.ReplicatedJob.TotalCompletions = &zero
		case spec.Mode.Replicated != nil:
			spec.Mode.Replicated.Replicas = &zero
		}
		spec.Labels = withMarks(spec.Labels, map[string]string{LabelStopped: "true"})
		_, err = r.Engine.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec})
		if err == nil || try == 2 || !strings.Contains(err.Error(), "update out of sequence") {
			return err
		}
	}
}

// joinStack puts a kept service, once Swarm confirmed it stopped, in the
// stack: docker stack rm then removes it with the rest (it uses the stack's
// network, which docker stack rm could not remove otherwise). A service
// that may still run never gets the label: docker stack rm and deploy
// --prune must not remove what would orphan a running task (moby#44312).
func (r *Runner) joinStack(ctx context.Context, job Job, serviceID string) {
	inspected, err := r.Engine.ServiceInspect(ctx, serviceID, client.ServiceInspectOptions{})
	svc := inspected.Service
	if err == nil {
		spec := svc.Spec
		spec.Labels = withMarks(spec.Labels, map[string]string{LabelStackNamespace: job.Stack})
		_, err = r.Engine.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec})
	}
	if err != nil {
		r.Report.Notice(job.Name, fmt.Sprintf("WARNING: kept service %s could not join stack %s (%s): docker stack rm leaves it; remove it with docker service rm %s", job.Spec.Name, job.Stack, OneLine(err), job.Spec.Name))
	}
}

// liveAttempts are the tasks whose container may run or start. A task no
// node took that Swarm wants shut down never starts.
func liveAttempts(tasks []swarm.Task) []Attempt {
	var live []swarm.Task
	for _, t := range tasks {
		if rank[t.Status.State] < rank[swarm.TaskStateComplete] && (t.NodeID != "" || rank[t.DesiredState] < rank[swarm.TaskStateShutdown]) {
			live = append(live, t)
		}
	}
	return Attempts(live, nil)
}

// describeLive names where each live attempt is: task, node, container.
func (r *Runner) describeLive(ctx context.Context, live []Attempt) string {
	parts := make([]string, 0, len(live))
	for _, a := range live {
		where := "no node yet"
		if a.NodeID != "" {
			where = "node " + shortID(a.NodeID)
			if inspected, err := r.Engine.NodeInspect(ctx, a.NodeID, client.NodeInspectOptions{}); err == nil {
				n := inspected.Node
				where = fmt.Sprintf("node %s (%s, %s)", n.Description.Hostname, shortID(a.NodeID), n.Status.State)
			}
		}
		s := fmt.Sprintf("task %s %s on %s", shortID(a.TaskID), a.State, where)
		if a.ContainerID != "" {
			s += ", container " + shortID(a.ContainerID)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// orphans reports the attempts that Swarm still runs after the service was
// removed outside jobrun: Engine 20.10 leaves them running (moby/moby#44312).
func (r *Runner) orphans(ctx context.Context, job Job, attempts []Attempt) {
	f := make(client.Filters)
	for _, a := range attempts {
		f.Add("id", a.TaskID)
	}
	if len(f) == 0 {
		return
	}
	list, err := r.Engine.TaskList(ctx, client.TaskListOptions{Filters: f})
	tasks := list.Items
	if live := liveAttempts(tasks); err == nil && len(live) > 0 {
		r.Report.Notice(job.Name, fmt.Sprintf("WARNING: its service is gone, but Swarm still reports %s: the engine left it running (moby/moby#44312); stop that container on its node (docker kill)", r.describeLive(ctx, live)))
	}
}

func stopGrace(job Job) time.Duration {
	if cs := job.Spec.TaskTemplate.ContainerSpec; cs != nil && cs.StopGracePeriod != nil {
		return *cs.StopGracePeriod
	}
	return 10 * time.Second // the engine's default
}

func (r *Runner) remove(ctx context.Context, job Job, serviceID string) error {
	if _, err := r.Engine.ServiceRemove(ctx, serviceID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		r.Report.Notice(job.Name, fmt.Sprintf("WARNING: could not remove service %s: %s: remove it with docker service rm %s", job.Spec.Name, OneLine(err), job.Spec.Name))
		return &EngineError{Msg: "remove service " + job.Spec.Name, Err: err}
	}
	return nil
}
