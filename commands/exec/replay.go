package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/commands/stackjobs"
	"jobrun/jobs"
)

// replay makes attempt ReplayAttempt of run ReplayRun again, as an exec:
// from the run's record and kept spec (the stack file is not read), on
// the node the attempt ran on, with the attempt's own command unless one
// is given.
func replay(ctx context.Context, o *Options) (jobs.Record, error) {
	if err := o.Common.Check(); err != nil {
		return jobs.Record{}, err
	}
	s, err := o.open(ctx, &jobs.Stack{Name: o.Stack}, jobs.SpecOptions{})
	if err != nil {
		return jobs.Record{}, err
	}
	defer s.Close()
	rec, spec, err := recorded(ctx, s.Engine, o)
	if err != nil {
		return jobs.Record{}, err
	}
	// The version is the record's; the other flags are checked as an exec's.
	s.Version = rec.Version
	if _, err := s.Check(); err != nil {
		return jobs.Record{}, err
	}
	job, a, err := replayJob(ctx, s, o, rec, spec)
	if err != nil {
		return jobs.Record{}, err
	}
	command := job.Spec.TaskTemplate.ContainerSpec.Args // as replayJob chose it
	if rec.Image != "" && !strings.Contains(rec.Image, "@sha256:") {
		s.Report.Notice(o.Job, fmt.Sprintf("WARNING: run %s's image %s was not pinned to a digest (--resolve-image never, or no registry answered): the node runs what the tag names now", rec.RunID, rec.Image))
	}
	s.Report.Notice(o.Job, fmt.Sprintf("replaying attempt %d of run %s (version %s, image %s) on node %s", a.Number, rec.RunID, rec.Version, rec.Image, jobs.NodeName(a.Hostname, a.NodeID)))
	return o.exec(ctx, s, job, command, &jobs.ReplayInfo{RunID: rec.RunID, Attempt: a.Number, NodeID: a.NodeID, Hostname: a.Hostname})
}

// recorded is the run to replay and its kept spec, each said missing in
// one line that names the fix.
func recorded(ctx context.Context, engine client.APIClient, o *Options) (jobs.Record, swarm.ServiceSpec, error) {
	records := jobs.Records{Engine: engine}
	found, err := records.Find(ctx, jobs.RecordFilter{Stack: o.Stack, RunID: o.ReplayRun}, 1)
	if err != nil {
		return jobs.Record{}, swarm.ServiceSpec{}, &jobs.EngineError{Msg: "read run records", Err: err}
	}
	var rec jobs.Record
	if len(found) == 1 {
		rec = found[0]
	}
	switch {
	case rec.RunID == "":
		return rec, swarm.ServiceSpec{}, &jobs.UsageError{Msg: fmt.Sprintf("stack %s has no recorded run %s: check the run ID with jobrun history %s", o.Stack, o.ReplayRun, o.Job)}
	case rec.Job != o.Job:
		return rec, swarm.ServiceSpec{}, &jobs.UsageError{Msg: fmt.Sprintf("run %s is of job %s, not %s: jobrun exec %s --run %s --attempt %d", rec.RunID, rec.Job, o.Job, rec.Job, rec.RunID, o.ReplayAttempt)}
	case rec.Exec != nil:
		return rec, swarm.ServiceSpec{}, &jobs.UsageError{Msg: fmt.Sprintf("run %s is a jobrun exec, not a run of %s: replay a run of the job (jobrun history %s lists them)", rec.RunID, o.Job, o.Job)}
	}
	spec, ok, err := records.Spec(ctx, rec)
	if err != nil {
		return rec, spec, &jobs.EngineError{Msg: "read run records", Err: err}
	}
	if !ok {
		return rec, spec, &jobs.UsageError{Msg: fmt.Sprintf("run %s of %s was recorded without its service spec (by a jobrun from before replays, or the spec could not be kept), so it cannot be replayed: run the job again (jobrun %s --version %s --force) for a run that can be, or jobrun exec %s --version %s -- CMD runs a command in its context as the stack file says now", rec.RunID, o.Job, o.Job, rec.Version, o.Job, rec.Version)}
	}
	return rec, spec, nil
}

// replayJob is the exec that makes the attempt again: the recorded job on
// the attempt's node, once Swarm may place it there and, with -i, once
// that node is the one jobrun talks to.
func replayJob(ctx context.Context, s *stackjobs.Session, o *Options, rec jobs.Record, spec swarm.ServiceSpec) (jobs.Job, jobs.Attempt, error) {
	a, err := rec.Attempt(o.ReplayAttempt)
	if err != nil {
		return jobs.Job{}, a, err
	}
	job, err := jobs.ReplayJob(rec, spec, jobs.NewRunID(s.Now()), o.PendingTimeout)
	if err != nil {
		return jobs.Job{}, a, err
	}
	command := o.Command
	if !o.DashDash {
		command = job.Spec.TaskTemplate.ContainerSpec.Args // the attempt's own
	}
	e := jobs.ExecSpec{ID: job.RunID[len(job.RunID)-6:], Command: command, Entrypoint: o.Entrypoint, TTY: o.TTY, Stdin: o.Interactive, NodeID: a.NodeID}
	if job, err = jobs.AsExec(job, e); err != nil {
		return jobs.Job{}, a, err
	}
	node, err := jobs.ReplayNode(ctx, s.Engine, job, rec, a)
	if err != nil {
		return jobs.Job{}, a, err
	}
	if a.Hostname == "" {
		a.Hostname = node.Description.Hostname
	}
	if o.Interactive {
		if err := attachable(ctx, s.Engine, node, a, rec); err != nil {
			return jobs.Job{}, a, err
		}
	}
	return job, a, nil
}

// attachable refuses -i unless the attempt's node is the one jobrun talks
// to: only a node's own engine can attach its containers.
func attachable(ctx context.Context, engine client.APIClient, node swarm.Node, a jobs.Attempt, rec jobs.Record) error {
	info, err := engine.Info(ctx, client.InfoOptions{})
	if err != nil {
		return &jobs.EngineError{Msg: "docker info", Err: err}
	}
	if info.Info.Swarm.NodeID == node.ID {
		return nil
	}
	host, addr := node.Description.Hostname, node.Status.Addr
	if m := node.ManagerStatus; m != nil && m.Addr != "" {
		addr, _, _ = strings.Cut(m.Addr, ":")
	}
	manager := ""
	if node.Spec.Role != swarm.NodeRoleManager {
		manager = fmt.Sprintf(", which must be a manager (it is a worker: docker node promote %s)", host)
	}
	return &jobs.UsageError{Msg: fmt.Sprintf("-i attaches through the engine of the node the command runs on, and attempt %d of run %s ran on node %s at %s, not on the node jobrun talks to: point jobrun at that node's engine with a docker context (docker context create %s --docker host=ssh://USER@%s, then jobrun --context %s exec ...)%s, or drop -i", a.Number, rec.RunID, jobs.NodeName(host, node.ID), addr, host, addr, host, manager)}
}
