package deploy

import (
	"strings"
	"testing"
	"time"

	"jobrun/jobs"
)

// deployAt is a deploy record of version v started at minute m (its ID
// sorts as its time does), ended a minute later.
func deployAt(m int, v string, verdict Verdict) Record {
	t := time.Date(2026, 12, 5, 10, m, 0, 0, time.UTC)
	return Record{ID: jobs.NewRunID(t), Version: v, Verdict: verdict, Started: t, Ended: t.Add(time.Minute)}
}

func TestRollbackTarget(t *testing.T) {
	v1, v2, v3 := deployAt(1, "v1", Released), deployAt(3, "v2", Released), deployAt(5, "v3", Released)
	v3failed := deployAt(5, "v3", ServicesFailed)
	v2again := deployAt(7, "v2", Released)
	back := func(m int, to Record) Record {
		r := deployAt(m, to.Version, RolledBackTo)
		r.Restores = to.ID
		return r
	}
	failedBack := back(6, v2)
	failedBack.Verdict = ServicesFailed
	v4 := deployAt(8, "v4", Released)
	v2failed := deployAt(7, "v2", ServicesFailed)
	tests := []struct {
		name    string
		recs    []Record
		to      string
		want    Record
		wantErr string
	}{
		{name: "the release before the live one", recs: []Record{v1, v2, v3}, want: v2},
		{name: "a failed deploy is undone: back to the live release", recs: []Record{v1, v2, v3failed}, want: v2},
		{name: "a redeploy of the same version is not a release to go back to", recs: []Record{v1, v2, v2again}, want: v1},
		{name: "after a rollback, further back, not forward", recs: []Record{v1, v2, v3, back(6, v2)}, want: v1},
		{name: "after a rollback and a new release, back to the release the rollback put back", recs: []Record{v1, v2, v3, back(6, v2), v4}, want: v2},
		{name: "a failed redeploy of the live version: back to that version", recs: []Record{v1, v2, v2failed}, want: v2},
		{name: "a failed rollback is tried again", recs: []Record{v1, v2, v3, failedBack}, want: v2},
		{name: "no release at all", recs: []Record{v3failed}, wantErr: "stack todo has no released deploy to roll back to"},
		{name: "after a rollback to the first release, nothing older", recs: []Record{v1, v2, back(4, v1)}, wantErr: "no released deploy before version v1"},
		{name: "--to picks that version's newest release", recs: []Record{v1, v2, v3, v2again}, to: "v2", want: v2again},
		{name: "--to a version never released", recs: []Record{v1, v3failed}, to: "v3", wantErr: "--to v3: stack todo has no released deploy of version v3"},
		{name: "only one release", recs: []Record{v1}, wantErr: "no released deploy before version v1"},
		{name: "no deploy at all", wantErr: "stack todo has no deploy record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RollbackTarget(tt.recs, "todo", tt.to)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || jobs.ExitCodeOf(err) != jobs.ExitUsage {
					t.Fatalf("err %v, want a usage error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.ID != tt.want.ID {
				t.Errorf("got %s %s (%v), want %s %s", got.Version, got.ID, err, tt.want.Version, tt.want.ID)
			}
		})
	}
}

func TestRunsSince(t *testing.T) {
	v1 := deployAt(1, "v1", Released)
	run := func(m int, job string, outcome jobs.Outcome) jobs.Record {
		at := v1.Started.Add(time.Duration(m) * time.Minute)
		return jobs.Record{RunID: jobs.NewRunID(at), Job: job, Version: "v2", Outcome: outcome, Started: at}
	}
	during := run(0, "migrate", jobs.Succeeded) // v1's own migration
	migrate, smoke, failed := run(4, "migrate", jobs.Succeeded), run(5, "smoke", jobs.Succeeded), run(3, "migrate", jobs.Failed)
	byHand := run(8, "seed", jobs.Succeeded)
	exec := run(9, "migrate", jobs.Succeeded)
	exec.Exec = &jobs.ExecInfo{}
	v2 := deployAt(4, "v2", Released)
	v2.Jobs = []JobRun{{Job: "migrate", Phase: PreDeploy, RunID: migrate.RunID}, {Job: "smoke", Phase: PostDeploy, RunID: smoke.RunID}}

	since, pre := RunsSince([]jobs.Record{byHand, exec, smoke, failed, migrate, during}, []Record{v1, v2}, v1)
	if got := ids(since); got != ids([]jobs.Record{migrate, smoke, byHand}) {
		t.Errorf("since %s, want the successes after v1 ended, oldest first, no exec", got)
	}
	if got := ids(pre); got != ids([]jobs.Record{migrate, byHand}) {
		t.Errorf("pre %s, want all but the post-deploy job", got)
	}
	if since, pre := RunsSince([]jobs.Record{during}, []Record{v1}, v1); len(since)+len(pre) != 0 {
		t.Errorf("a release's own runs count as since it: %v %v", since, pre)
	}
}

func ids(recs []jobs.Record) string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Job+"@"+r.RunID)
	}
	return strings.Join(out, " ")
}
