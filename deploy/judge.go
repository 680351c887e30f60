package deploy

import (
	"fmt"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// State is where a service stands: its up-to-date tasks that run, against
// those its spec asks for, and its last update.
type State struct {
	Running, Desired int
	Job              bool              // a job mode: the progress code judges it, by its completions
	Update           swarm.UpdateState // "" when the service was never updated
	UpdateMessage    string
	UpdateStarted    time.Time
	Waiting          string // why a task does not run, as the engine says: "no suitable node (insufficient resources on 1 node)"
}

// Converged is a service that runs what its spec asks, with no update under
// way or stopped halfway.
func (s State) Converged() bool {
	switch s.Update {
	case swarm.UpdateStateUpdating, swarm.UpdateStatePaused, swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackPaused:
		return false
	}
	return s.Job || s.Running >= s.Desired
}

// Paused is a service whose update, or the rollback of it, stopped halfway:
// it waits for an operator, not for time.
func (s State) Paused() bool {
	return s.Update == swarm.UpdateStatePaused || s.Update == swarm.UpdateStateRollbackPaused
}

// RolledBackSince is a service whose update of since or later was rolled
// back, or is being rolled back: an earlier release's rollback is history.
func (s State) RolledBackSince(since time.Time) bool {
	switch s.Update {
	case swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackPaused, swarm.UpdateStateRollbackCompleted:
		return !s.UpdateStarted.Before(since)
	}
	return false
}

func (s State) String() string {
	out := fmt.Sprintf("%d/%d tasks running", s.Running, s.Desired)
	if s.Job {
		out = "job"
	}
	switch s.Update {
	case swarm.UpdateStateUpdating, swarm.UpdateStatePaused, swarm.UpdateStateRollbackStarted, swarm.UpdateStateRollbackPaused:
		out += fmt.Sprintf(", update %s", s.Update)
		if s.UpdateMessage != "" {
			out += ": " + s.UpdateMessage
		}
	}
	if s.Waiting != "" && !s.Converged() {
		out += "; a task waits: " + s.Waiting
	}
	return out
}

// Judge says where a service stands from its up-to-date tasks whose desired
// state is running, and which nodes are up: a task on a node that is down
// runs nothing.
func Judge(svc swarm.Service, tasks []swarm.Task, up map[string]bool) State {
	var st State
	if u := svc.UpdateStatus; u != nil {
		st.Update, st.UpdateMessage = u.State, u.Message
		if u.StartedAt != nil {
			st.UpdateStarted = *u.StartedAt
		}
	}
	mode := svc.Spec.Mode
	switch {
	case mode.ReplicatedJob != nil || mode.GlobalJob != nil:
		st.Job = true
	case mode.Replicated != nil && mode.Replicated.Replicas != nil:
		st.Desired = int(*mode.Replicated.Replicas)
	case mode.Global == nil:
		st.Desired = 1 // replicated, as many as the engine's default
	}
	nodes := map[string]bool{} // a global service asks for a task on each
	for _, t := range tasks {
		if t.DesiredState != swarm.TaskStateRunning || (t.NodeID != "" && !up[t.NodeID]) {
			continue
		}
		nodes[t.NodeID] = true
		if t.Status.State == swarm.TaskStateRunning {
			st.Running++
		} else if st.Waiting == "" {
			st.Waiting = t.Status.Err
		}
	}
	if mode.Global != nil {
		st.Desired = len(nodes)
	}
	return st
}
