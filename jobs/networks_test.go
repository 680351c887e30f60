package jobs

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/moby/moby/api/types/swarm"

	"jobrun/jobs/jobstest"
)

// TestRunnerRemakesARemovedNetwork: a create that finds the job's network
// gone from the swarm (docker stack rm under way) has it made again and
// starts the job, where the command makes networks (jobrun deploy); else it
// asks for a deploy. A network the job does not use is the engine's error.
func TestRunnerRemakesARemovedNetwork(t *testing.T) {
	removed := errors.New("Error response from daemon: network todo_default not found")
	tests := []struct {
		name      string
		err       error
		maker     bool
		wantMade  []string
		wantOut   Outcome
		wantExit  int // when the run does not start
		wantWords string
	}{
		{name: "a release makes it again", err: removed, maker: true, wantMade: []string{"todo_default"}, wantOut: Succeeded},
		{name: "a run asks for a deploy", err: removed, wantExit: ExitUsage, wantWords: "network todo_default was removed as the job started (docker stack rm): deploy the stack first"},
		{name: "not the job's network", err: errors.New("Error response from daemon: network other_net not found"), maker: true, wantExit: ExitEngine, wantWords: "create service jobrun_todo_migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				engine := &fakeEngine{firstErr: tt.err, tasks: func(int, bool) []swarm.Task {
					return []swarm.Task{ended("t1", swarm.TaskStateComplete, 0)}
				}}
				rt := newRunnerTest(t, engine, echoSource{}, RunOptions{})
				defer rt.stop()
				var made []string
				if tt.maker {
					rt.runner.Networks = func(_ context.Context, name string) error { made = append(made, name); return nil }
				}
				job := testJob()
				job.Spec.TaskTemplate.Networks = []swarm.NetworkAttachmentConfig{{Target: "todo_default"}}
				rec, err := rt.runner.Run(t.Context(), job)
				if tt.wantExit != 0 {
					jobstest.WantExit(t, err, tt.wantExit, tt.wantWords)
				} else if err != nil || rec.Outcome != tt.wantOut {
					t.Errorf("outcome %q, err %v: want %q", rec.Outcome, err, tt.wantOut)
				}
				if len(made) != len(tt.wantMade) || len(made) > 0 && made[0] != tt.wantMade[0] {
					t.Errorf("networks made %q, want %q", made, tt.wantMade)
				}
			})
		})
	}
}

func TestRemovedNetwork(t *testing.T) {
	tests := []struct {
		err  error
		name string
	}{
		{errors.New("Error response from daemon: network todo_default not found"), "todo_default"},
		{&EngineError{Msg: "deploy stack todo", Err: errors.New("failed to create service todo_app: Error response from daemon: network todo_back not found")}, "todo_back"},
		{errors.New("Error response from daemon: no such image"), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		name, ok := RemovedNetwork(tt.err)
		if name != tt.name || ok != (tt.name != "") {
			t.Errorf("RemovedNetwork(%v) = %q, %t; want %q", tt.err, name, ok, tt.name)
		}
	}
}
