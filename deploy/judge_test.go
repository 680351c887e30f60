package deploy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func TestJudge(t *testing.T) {
	replicas := func(n uint64) swarm.Service {
		return swarm.Service{Spec: swarm.ServiceSpec{Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}}}}
	}
	updated := func(svc swarm.Service, state swarm.UpdateState, msg string) swarm.Service {
		svc.UpdateStatus = &swarm.UpdateStatus{State: state, Message: msg}
		return svc
	}
	global := swarm.Service{Spec: swarm.ServiceSpec{Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}}}}
	job := swarm.Service{Spec: swarm.ServiceSpec{Mode: swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}}}
	task := func(node string, state swarm.TaskState, err string) swarm.Task {
		return swarm.Task{NodeID: node, DesiredState: swarm.TaskStateRunning, Status: swarm.TaskStatus{State: state, Err: err}}
	}
	running := task("n1", swarm.TaskStateRunning, "")
	noCPU := task("", swarm.TaskStatePending, "no suitable node (insufficient resources on 1 node)")
	up := map[string]bool{"n1": true, "n2": true, "n3": false}
	tests := []struct {
		name      string
		svc       swarm.Service
		tasks     []swarm.Task
		converged bool
		want      string
	}{
		{name: "every replica runs", svc: replicas(2), tasks: []swarm.Task{running, task("n2", swarm.TaskStateRunning, "")}, converged: true, want: "2/2 tasks running"},
		{name: "no node has the CPU", svc: replicas(1), tasks: []swarm.Task{noCPU},
			want: "0/1 tasks running; a task waits: no suitable node (insufficient resources on 1 node)"},
		{name: "a completed update is not enough", svc: updated(replicas(3), swarm.UpdateStateCompleted, ""), tasks: []swarm.Task{running, running, noCPU},
			want: "2/3 tasks running; a task waits: no suitable node (insufficient resources on 1 node)"},
		{name: "a task on a node that is down runs nothing", svc: replicas(1), tasks: []swarm.Task{task("n3", swarm.TaskStateRunning, "")}, want: "0/1 tasks running"},
		{name: "an update under way", svc: updated(replicas(1), swarm.UpdateStateUpdating, "update in progress"), tasks: []swarm.Task{running},
			want: "1/1 tasks running, update updating: update in progress"},
		{name: "a paused update", svc: updated(replicas(1), swarm.UpdateStatePaused, "update paused due to failure or early termination of task x"), tasks: []swarm.Task{running},
			want: "1/1 tasks running, update paused: update paused due to failure or early termination of task x"},
		{name: "a paused rollback", svc: updated(replicas(1), swarm.UpdateStateRollbackPaused, ""), tasks: []swarm.Task{running}, want: "1/1 tasks running, update rollback_paused"},
		{name: "a finished rollback runs the spec it went back to", svc: updated(replicas(1), swarm.UpdateStateRollbackCompleted, "rollback completed"), tasks: []swarm.Task{running},
			converged: true, want: "1/1 tasks running"},
		{name: "global: a task on each node that is up", svc: global, tasks: []swarm.Task{running, task("n2", swarm.TaskStateRunning, ""), task("n3", swarm.TaskStatePending, "")},
			converged: true, want: "2/2 tasks running"},
		{name: "global: a node's task waits", svc: global, tasks: []swarm.Task{running, task("n2", swarm.TaskStatePreparing, "")}, want: "1/2 tasks running"},
		{name: "a job is judged by its completions elsewhere", svc: job, converged: true, want: "job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Judge(tt.svc, tt.tasks, up)
			if st.Converged() != tt.converged || st.String() != tt.want {
				t.Errorf("converged %v, %q; want %v, %q", st.Converged(), st.String(), tt.converged, tt.want)
			}
		})
	}
}

func TestRollout(t *testing.T) {
	since := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	running := State{Running: 1, Desired: 1}
	waiting := State{Desired: 1, Waiting: "no suitable node (insufficient resources on 1 node)"}
	update := func(st State, u swarm.UpdateState, started time.Time) State {
		st.Update, st.UpdateMessage, st.UpdateStarted = u, "update rolled back due to failure of task x", started
		return st
	}
	changed, unchanged := Target{Name: "app", Changed: true}, Target{Name: "app"}
	tests := []struct {
		name     string
		target   Target
		st       State
		waited   bool
		err      error
		timedOut bool
		want     ServiceResult
	}{
		{name: "unchanged and running", target: unchanged, st: running, want: ServiceResult{Service: "app", Result: Unchanged}},
		{name: "changed and converged", target: changed, st: running, waited: true, want: ServiceResult{Service: "app", Result: Converged}},
		{name: "unchanged, waited for until it ran", target: unchanged, st: running, waited: true, want: ServiceResult{Service: "app", Result: Converged}},
		{name: "timed out", target: changed, st: waiting, waited: true, err: context.DeadlineExceeded, timedOut: true,
			want: ServiceResult{Service: "app", Result: TimedOut, Message: "not converged by --deploy-timeout: 0/1 tasks running; a task waits: no suitable node (insufficient resources on 1 node)"}},
		{name: "deployed again as it was, and still not running", target: unchanged, st: waiting, waited: true, err: context.DeadlineExceeded, timedOut: true,
			want: ServiceResult{Service: "app", Result: TimedOut, Message: "deployed again as it was; not converged by --deploy-timeout: 0/1 tasks running; a task waits: no suitable node (insufficient resources on 1 node)"}},
		{name: "rolled back by this release", target: changed, st: update(running, swarm.UpdateStateRollbackCompleted, since.Add(time.Second)), waited: true,
			want: ServiceResult{Service: "app", Result: RolledBack, Message: "update rolled back due to failure of task x"}},
		{name: "rolled back by an earlier release, running what the file says", target: unchanged, st: update(running, swarm.UpdateStateRollbackCompleted, since.Add(-time.Hour)),
			want: ServiceResult{Service: "app", Result: Unchanged}},
		{name: "an earlier update paused", target: unchanged, st: update(running, swarm.UpdateStatePaused, since.Add(-time.Hour)), waited: true, err: errors.New("service update paused: x"),
			want: ServiceResult{Service: "app", Result: Paused, Message: "deployed again as it was; 1/1 tasks running, update paused: update rolled back due to failure of task x"}},
		{name: "the engine could not be asked", target: changed, st: waiting, waited: true, err: errors.New("inspect service x: connection refused"),
			want: ServiceResult{Service: "app", Result: Failed, Message: "inspect service x: connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Rollout(tt.target, tt.st, since, tt.waited, tt.err, tt.timedOut); got != tt.want {
				t.Errorf("%+v\nwant %+v", got, tt.want)
			}
		})
	}
}
