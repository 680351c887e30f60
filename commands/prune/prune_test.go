package prune

import (
	"context"
	"strings"
	"testing"
	"time"

	"jobrun/commands/cmdutil"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/deploy"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// TestPrune: a stack's records are pruned to the newest runs of each job,
// and the command says what it removed.
func TestPrune(t *testing.T) {
	engine := &cmdtest.Engine{}
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	for i, v := range []string{"v1", "v2", "v3", "v4"} {
		if err := engine.Save("todo", cmdtest.Run{Job: "migrate", Version: v, Outcome: jobs.Failed, At: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	f, out, errb := cmdtest.Factory(engine, t0)
	if err := Run(context.Background(), f, &Options{Common: cmdutil.Common{Stack: "todo"}, Job: "migrate", KeepRuns: 1}); err != nil {
		t.Fatalf("prune: %v", err)
	}
	want := "jobrun: prune: job migrate of stack todo: 4 runs, 1 kept; removed 3 records"
	if out.Len() != 0 || !strings.HasPrefix(errb.String(), want) {
		t.Errorf("stdout %q, stderr %q; want stderr to begin %q", out.String(), errb.String(), want)
	}
	left, err := jobs.Records{Engine: engine}.Find(context.Background(), jobs.RecordFilter{Stack: "todo", Job: "migrate"}, 0)
	if err != nil || len(left) != 1 || left[0].Version != "v4" {
		t.Errorf("records left: %+v (%v), want the newest, v4", left, err)
	}
}

// TestPruneUsage: mistakes are refused before the engine is reached.
func TestPruneUsage(t *testing.T) {
	tests := []struct {
		name  string
		o     Options
		words []string
	}{
		{"no stack", Options{KeepRuns: 5}, []string{"--stack is required"}},
		{"keep none", Options{Common: cmdutil.Common{Stack: "todo"}, KeepRuns: 0}, []string{"--keep-runs 0 must be at least 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := cmdtest.Factory(&cmdtest.Engine{}, time.Now())
			f.Connect = nil // reaching the engine would panic
			jobstest.WantExit(t, Run(context.Background(), f, &tt.o), jobs.ExitUsage, tt.words...)
		})
	}
}

// TestPruneDeploys: without a job, the stack's deploy records are bounded
// too, the newest release kept however old.
func TestPruneDeploys(t *testing.T) {
	engine := &cmdtest.Engine{}
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	records := deploy.Records{Engine: engine}
	for i, verdict := range []deploy.Verdict{deploy.Released, deploy.JobFailed, deploy.JobFailed} {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := records.Save(context.Background(), deploy.Record{ID: jobs.NewRunID(at), Stack: "todo", Version: "v1", Verdict: verdict, Started: at}); err != nil {
			t.Fatal(err)
		}
	}
	f, _, errb := cmdtest.Factory(engine, t0)
	if err := Run(context.Background(), f, &Options{Common: cmdutil.Common{Stack: "todo"}, KeepRuns: 1}); err != nil {
		t.Fatalf("prune: %v", err)
	}
	if want := "deploys of stack todo: kept the newest 1 and the newest released one; removed 1\n"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr %q lacks %q", errb.String(), want)
	}
	left, err := records.List(context.Background(), "todo")
	if err != nil || len(left) != 2 || left[0].Verdict != deploy.Released || left[1].Started != t0.Add(2*time.Minute) {
		t.Errorf("deploys left: %+v (%v), want the release and the newest", left, err)
	}
}
