package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/deploy"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

func rollbackOptions(change func(*RollbackOptions)) *RollbackOptions {
	o := &RollbackOptions{Common: cmdutil.Common{Stack: "todo"}, DeployTimeout: time.Minute, KeepRuns: 50, Output: "text"}
	if change != nil {
		change(o)
	}
	return o
}

// TestRollbackUsage: mistakes are refused before the engine is reached.
func TestRollbackUsage(t *testing.T) {
	tests := []struct {
		name   string
		change func(*RollbackOptions)
		words  []string
	}{
		{"no stack", func(o *RollbackOptions) { o.Stack = "" }, []string{"--stack is required"}},
		{"output", func(o *RollbackOptions) { o.Output = "yaml" }, []string{`--output "yaml" is unknown`}},
		{"deploy timeout", func(o *RollbackOptions) { o.DeployTimeout = 0 }, []string{"--deploy-timeout 0s must be positive"}},
		{"keep runs", func(o *RollbackOptions) { o.KeepRuns = 0 }, []string{"--keep-runs 0 must be at least 1"}},
		{"notify", func(o *RollbackOptions) { o.Notify = []string{"ftp://x"} }, []string{"ftp://x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(&cmdtest.Engine{}, time.Now())
			f.Connect = nil // reaching the engine would panic
			jobstest.WantExit(t, Rollback(context.Background(), f, rollbackOptions(tt.change)), jobs.ExitUsage, tt.words...)
		})
	}
}

// TestRollbackRefused: a migration ran since the release a rollback would
// put back; without --force nothing is touched (the fake engine has no
// services to touch: a call would panic) and the lock is given back.
func TestRollbackRefused(t *testing.T) {
	ctx := context.Background()
	engine := &cmdtest.Engine{}
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	records := deploy.Records{Engine: engine}
	for i, v := range []string{"v1", "v2"} {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		rec := deploy.Record{ID: jobs.NewRunID(at), Stack: "todo", Version: v, Verdict: deploy.Released, Started: at, Ended: at.Add(time.Minute)}
		if err := records.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := records.SaveSpecs(ctx, "todo", rec.ID, deploy.Specs{"app": swarm.ServiceSpec{}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := engine.Save("todo", cmdtest.Run{Job: "migrate", Version: "v2", Outcome: jobs.Succeeded, At: t0.Add(5 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	f, _, errb := cmdtest.Factory(engine, t0.Add(time.Hour))
	err := Rollback(ctx, f, rollbackOptions(nil))
	jobstest.WantExit(t, err, jobs.ExitRefused, "rollback to version v1 refused: migrate v2 (run ", "--force")
	if !strings.Contains(errb.String(), "since then: migrate v2 succeeded") {
		t.Errorf("stderr does not name the run since:\n%s", errb.String())
	}
	if cfgs, _ := engine.ConfigList(ctx, client.ConfigListOptions{}); len(cfgs.Items) != 5 {
		t.Errorf("%d configs, want the 2 deploys, their specs and the run: the lock given back, no record of a rollback", len(cfgs.Items))
	}
}

func TestRestoreFailure(t *testing.T) {
	specs := deploy.Specs{"app": {}, "db": {}, "web": {}, "worker": {}}
	err := &jobs.EngineError{Msg: "update service todo_web", Err: errors.New("rpc error: update out of sequence")}
	tests := []struct {
		name    string
		targets []deploy.Target
		want    string
	}{
		{"the first fails", nil, "rolling back to version v2 failed: update service todo_web: rpc error: update out of sequence; no service was changed; not put back: app, db, web, worker"},
		{"half-way", []deploy.Target{{Name: "app", Changed: true}, {Name: "db"}}, "rolling back to version v2 failed: update service todo_web: rpc error: update out of sequence; already put back: app; not put back: web, worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := restoreFailure("v2", specs, tt.targets, err); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
