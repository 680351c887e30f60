package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// A run's spec is kept beside its record, so that an attempt can be made
// again as it ran (jobrun exec --run): the spec jobrun created the job's
// service with, its image pinned as the engine pinned it. Only its labels
// are read when runs are listed or pruned.
const (
	kindSpec = "spec"
	// labelSpec on a record says its run's spec is kept: pruning removes
	// the spec with the record, and asks for none of the runs that kept none.
	labelSpec = "io.jobrun.spec"
	// Swarm caps a config at 500 KiB: a spec over this is not kept.
	maxStoredSpec = 400 << 10
)

func specName(runID string) string { return "jobrun-" + runID + "-spec" }

// ReplayInfo is what an exec's record keeps of the attempt it replayed.
type ReplayInfo struct {
	RunID    string `json:"run_id"`
	Attempt  int    `json:"attempt"`
	NodeID   string `json:"node_id"`
	Hostname string `json:"node_hostname,omitempty"`
}

// SaveSpec keeps the spec of rec's run and returns the config's name. It
// holds what service inspect shows (environment values among it, secrets
// by reference only), so it is kept where the service was: in the swarm.
func (s Records) SaveSpec(ctx context.Context, rec Record, spec swarm.ServiceSpec) (string, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	if len(data) > maxStoredSpec {
		return "", fmt.Errorf("the job's service spec is %d KiB, more than a Swarm config holds (500 KiB)", len(data)>>10)
	}
	name := specName(rec.RunID)
	_, err = s.Engine.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: name, Labels: map[string]string{
			LabelKind: kindSpec, LabelStack: rec.Stack, LabelJob: rec.Job, LabelRunID: rec.RunID,
		}},
		Data: data,
	}})
	if err != nil {
		return "", fmt.Errorf("keep the spec of run %s: %w", rec.RunID, err)
	}
	return name, nil
}

// Spec reads the spec kept with rec's run; false when none was kept (a
// run recorded before jobrun kept specs).
func (s Records) Spec(ctx context.Context, rec Record) (swarm.ServiceSpec, bool, error) {
	if rec.Spec == "" {
		return swarm.ServiceSpec{}, false, nil
	}
	list, err := s.Engine.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", LabelKind+"="+kindSpec).Add("label", LabelRunID+"="+rec.RunID)})
	cfgs := list.Items
	if err != nil {
		return swarm.ServiceSpec{}, false, fmt.Errorf("read the spec of run %s: %w", rec.RunID, err)
	}
	for _, c := range cfgs {
		var spec swarm.ServiceSpec
		if c.Spec.Name == rec.Spec && json.Unmarshal(c.Spec.Data, &spec) == nil {
			return spec, true, nil
		}
	}
	return swarm.ServiceSpec{}, false, nil
}

// keepSpec is part of a run's save: its spec kept, as jobrun created the
// service with the image the engine pinned, and named in the record. A
// spec that cannot be kept costs the replay only: the run is said as ever.
func (r *Runner) keepSpec(ctx context.Context, job Job, rec *Record) {
	if rec.Exec != nil {
		return // an exec is not replayed: the run it ran beside is
	}
	spec := job.Spec
	if cs := spec.TaskTemplate.ContainerSpec; cs != nil && rec.Image != "" {
		pinned := *cs
		pinned.Image = rec.Image
		spec.TaskTemplate.ContainerSpec = &pinned
	}
	name, err := r.Records.SaveSpec(ctx, *rec, spec)
	if err != nil {
		r.Report.Notice(job.Name, fmt.Sprintf("WARNING: %s: jobrun exec --run %s cannot replay its attempts", OneLine(err), rec.RunID))
		return
	}
	rec.Spec = name
}

// Attempt is attempt n of the recorded run, if it was placed on a node.
func (r Record) Attempt(n int) (Attempt, error) {
	if n < 1 || n > len(r.Attempts) {
		return Attempt{}, &UsageError{Msg: fmt.Sprintf("--attempt %d is out of range: run %s of %s had %d attempt(s) (jobrun logs --run %s lists them)", n, r.RunID, r.Job, len(r.Attempts), r.RunID)}
	}
	a := r.Attempts[n-1]
	if a.NodeID == "" {
		return Attempt{}, &UsageError{Msg: fmt.Sprintf("attempt %d of run %s was never placed on a node, so there is nowhere to replay it: pick another (jobrun logs --run %s)", n, r.RunID, r.RunID)}
	}
	return a, nil
}

// ReplayJob is the job of a recorded run made again from its kept spec,
// not from the stack file: the record's image (pinned to its digest when
// the run pinned it), environment, secrets, configs, networks, placement
// and logging as they were. It runs once, as an exec (AsExec) with the run
// ID of its own.
func ReplayJob(rec Record, spec swarm.ServiceSpec, runID string, pendingTimeout time.Duration) (Job, error) {
	if spec.TaskTemplate.ContainerSpec == nil {
		return Job{}, &UsageError{Msg: fmt.Sprintf("the spec kept with run %s has no container to replay", rec.RunID)}
	}
	cs := *spec.TaskTemplate.ContainerSpec
	if rec.Image != "" {
		cs.Image = rec.Image
	}
	cs.Labels = withMarks(cs.Labels, map[string]string{LabelRunID: runID})
	spec.TaskTemplate.ContainerSpec = &cs
	spec.Labels = withMarks(spec.Labels, map[string]string{LabelRunID: runID})
	return Job{
		Name: rec.Job, Stack: rec.Stack, Version: rec.Version, RunID: runID, Spec: spec,
		Policy: Policy{MaxRuns: 1, PendingTimeout: pendingTimeout}, Legacy: rec.Mode == "replicated",
	}, nil
}

// NodeInspector is the engine call that names a node.
type NodeInspector interface {
	NodeInspect(ctx context.Context, nodeID string, options client.NodeInspectOptions) (client.NodeInspectResult, error)
}

// ReplayNode is the node attempt a of rec ran on, once Swarm may place the
// replay (job) there; a NodeGoneError says why it may not.
func ReplayNode(ctx context.Context, engine NodeInspector, job Job, rec Record, a Attempt) (swarm.Node, error) {
	inspected, err := engine.NodeInspect(ctx, a.NodeID, client.NodeInspectOptions{})
	node := inspected.Node
	elsewhere := fmt.Sprintf("jobrun exec %s --version %s -- CMD runs in the job's context on a node Swarm picks", rec.Job, rec.Version)
	switch {
	case cerrdefs.IsNotFound(err):
		return swarm.Node{}, &NodeGoneError{Msg: fmt.Sprintf("attempt %d of run %s ran on node %s, which has left the swarm: it cannot be replayed there; %s", a.Number, rec.RunID, NodeName(a.Hostname, a.NodeID), elsewhere)}
	case err != nil:
		return swarm.Node{}, &EngineError{Msg: "inspect node " + a.NodeID, Err: err}
	}
	if why := MayNotRunOn(job, node); why != "" {
		return swarm.Node{}, &NodeGoneError{Msg: fmt.Sprintf("attempt %d of run %s cannot be replayed on its node: %s; make it take tasks again (docker node update --availability active %s, or start its engine), or %s", a.Number, rec.RunID, why, node.Description.Hostname, elsewhere)}
	}
	return node, nil
}

// NameNodes fills in the hostname of each attempt's node that has none,
// asking the engine once a node; a node it cannot inspect stays unnamed.
func NameNodes(ctx context.Context, engine NodeInspector, attempts []Attempt) {
	names := map[string]string{}
	for i, a := range attempts {
		if a.NodeID == "" || a.Hostname != "" {
			continue
		}
		name, asked := names[a.NodeID]
		if !asked {
			if inspected, err := engine.NodeInspect(ctx, a.NodeID, client.NodeInspectOptions{}); err == nil {
				node := inspected.Node
				name = node.Description.Hostname
			}
			names[a.NodeID] = name
		}
		attempts[i].Hostname = name
	}
}

// NodeName is how jobrun names a node: its hostname and short ID, or the
// ID alone when the hostname is not known.
func NodeName(hostname, id string) string {
	if hostname == "" {
		return shortID(id)
	}
	return fmt.Sprintf("%s (%s)", hostname, shortID(id))
}
