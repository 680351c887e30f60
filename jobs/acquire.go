package jobs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// lease is the job service a run watches; the owner created it.
type lease struct {
	serviceID string
	owner     bool
	image     string // as the engine holds it: pinned to a digest when the registry was asked; "" if unknown
}

// acquire creates the job service. Swarm service names are unique, so the
// create is the lock: whoever creates it owns the run; a second jobrun for
// the same version attaches to it, and one for another version is refused.
// A service that jobrun stopped but could not see end is still the lock.
func (r *Runner) acquire(ctx context.Context, job *Job) (lease, error) {
	remade := false
	for try := 0; try < 3; try++ {
		resp, err := r.Engine.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: job.Spec, EncodedRegistryAuth: r.Opts.RegistryAuth, QueryRegistry: r.Opts.QueryRegistry})
		if err == nil {
			for _, w := range resp.Warnings {
				r.Report.Notice(job.Name, "WARNING: the engine says: "+oneLineString(w))
			}
			r.Report.Notice(job.Name, fmt.Sprintf("started %s as service %s (run %s, %s)", job.Version, job.Spec.Name, job.RunID, job.Policy))
			return lease{serviceID: resp.ID, owner: true, image: r.serviceImage(ctx, resp.ID)}, nil
		}
		if name, ok := RemovedNetwork(err); ok && usesNetwork(job.Spec, name) && !remade {
			if err := r.remakeNetwork(ctx, *job, name); err != nil {
				return lease{}, err
			}
			remade = true
			continue
		}
		if !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already exists") {
			if cerrdefs.IsInvalidArgument(err) {
				return lease{}, &UsageError{Msg: fmt.Sprintf("the engine refused job %s: %s", job.Name, OneLine(err))}
			}
			return lease{}, &EngineError{Msg: "create service " + job.Spec.Name, Err: err}
		}
		inspected, err := r.Engine.ServiceInspect(ctx, job.Spec.Name, client.ServiceInspectOptions{})
		svc := inspected.Service
		if cerrdefs.IsNotFound(err) {
			continue // it ended between our create and inspect: try again
		}
		if err != nil {
			return lease{}, &EngineError{Msg: "inspect service " + job.Spec.Name, Err: err}
		}
		labels := svc.Spec.Labels
		switch {
		case labels[LabelJob] == "":
			return lease{}, &ConflictError{Msg: fmt.Sprintf("a service named %s exists that jobrun did not create: remove it (docker service rm %s)", job.Spec.Name, job.Spec.Name)}
		case labels[LabelStopped] == "" && labels[LabelVersion] == job.Version:
			job.RunID, job.Policy = labels[LabelRunID], policyFromLabels(labels, job.Policy.PendingTimeout)
			job.Output = outputRulesFromLabels(labels)
			r.Report.Notice(job.Name, fmt.Sprintf("version %s is already running (run %s): following it", job.Version, job.RunID))
			return lease{serviceID: svc.ID, image: imageOf(svc)}, nil
		}
		if err := r.clearLeftover(ctx, *job, svc); err != nil {
			return lease{}, err
		}
	}
	return lease{}, &ConflictError{Msg: fmt.Sprintf("service %s keeps reappearing: another jobrun is starting %s; try again when it ends", job.Spec.Name, job.Name)}
}

// remakeNetwork has the job's network that was removed under it made
// again; without a NetworkMaker only a deploy of the stack can.
func (r *Runner) remakeNetwork(ctx context.Context, job Job, name string) error {
	if r.Networks == nil {
		return &UsageError{Msg: fmt.Sprintf("job %s: network %s was removed as the job started (docker stack rm): deploy the stack first (jobrun deploy)", job.Name, name)}
	}
	return r.Networks(ctx, name)
}

// serviceImage is the image of the service just created. With
// QueryRegistry the client pins the stack file's image to its registry digest
// (name:tag@sha256:…) on create: only the engine's copy of the spec says so.
func (r *Runner) serviceImage(ctx context.Context, id string) string {
	inspected, err := r.Engine.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	svc := inspected.Service
	if err != nil {
		return "" // the record keeps the stack file's image
	}
	return imageOf(svc)
}

func imageOf(svc swarm.Service) string {
	if cs := svc.Spec.TaskTemplate.ContainerSpec; cs != nil {
		return cs.Image
	}
	return ""
}

// clearLeftover removes a job service that runs nothing any more: one that
// --keep left, or one jobrun stopped. A run of another version still going,
// or a stopped one whose container Swarm still reports, keeps the lock.
func (r *Runner) clearLeftover(ctx context.Context, job Job, svc swarm.Service) error {
	labels := svc.Spec.Labels
	list, err := r.Engine.TaskList(ctx, client.TaskListOptions{Filters: serviceFilter(svc.ID)})
	tasks := list.Items
	if err != nil {
		return &EngineError{Msg: "list tasks of " + job.Spec.Name, Err: err}
	}
	if labels[LabelStopped] == "" {
		if v := Judge(tasks, nil, policyFromLabels(labels, 0), r.Now()); v.Outcome == Running {
			return &ConflictError{Msg: fmt.Sprintf("%s version %s is running (run %s, since %s): wait for it, or stop it with docker service rm %s",
				job.Name, labels[LabelVersion], labels[LabelRunID], FormatTime(svc.CreatedAt), job.Spec.Name)}
		}
	} else if live := liveAttempts(tasks); len(live) > 0 {
		return &ConflictError{Msg: fmt.Sprintf("%s version %s (run %s) was stopped, but Swarm still reports %s: wait until it ends, or stop that container on its node",
			job.Name, labels[LabelVersion], labels[LabelRunID], r.describeLive(ctx, live))}
	}
	r.Report.Notice(job.Name, fmt.Sprintf("removing the finished service of version %s (run %s), left behind by an earlier run", labels[LabelVersion], labels[LabelRunID]))
	if ok := r.stop(ctx, job, svc.ID, false); !ok {
		return &ConflictError{Msg: fmt.Sprintf("the service of %s version %s (run %s) could not be stopped: try again when it ends", job.Name, labels[LabelVersion], labels[LabelRunID])}
	}
	return r.remove(ctx, job, svc.ID)
}

// policyFromLabels reads the policy a run recorded on its service.
func policyFromLabels(labels map[string]string, pendingTimeout time.Duration) Policy {
	p := Policy{MaxRuns: defaultMaxTries + 1, Delay: defaultDelay, PendingTimeout: pendingTimeout}
	if n, err := strconv.Atoi(labels[LabelMaxRuns]); err == nil {
		p.MaxRuns = n
	}
	if d, err := time.ParseDuration(labels[LabelDelay]); err == nil {
		p.Delay = d
	}
	p.FinalExitCodes = exitCodesFromLabel(labels[LabelFinalExitCodes])
	return p
}

// PriorSuccess is the record of the run in which this version of the job
// succeeded, if one did. A command asks before it builds the job: building
// creates the job's secrets and configs, which a run that is skipped has no
// use for.
func PriorSuccess(ctx context.Context, records Records, stack, job, version string) (Record, bool, error) {
	rec, ok, err := records.Succeeded(ctx, stack, job, version)
	if err != nil {
		return Record{}, false, &EngineError{Msg: "read run records", Err: err}
	}
	return rec, ok, nil
}

func (r *Runner) alreadySucceeded(ctx context.Context, job Job) (Record, bool, error) {
	return PriorSuccess(ctx, r.Records, job.Stack, job.Name, job.Version)
}

// Skip says that the version already succeeded (prev) and is not run
// again; it is the record of the run skipped.
func Skip(report Reporter, prev Record) Record {
	report.Notice(prev.Job, fmt.Sprintf("version %s already succeeded (run %s, %s): not running it again; --force runs it again",
		prev.Version, prev.RunID, FormatTime(prev.Ended)))
	prev.Skipped = true
	return prev
}

func (r *Runner) skip(prev Record) Record { return Skip(r.Report, prev) }
