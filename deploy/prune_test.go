package deploy

import (
	"context"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs/jobstest"
)

func TestPruneDeployRecords(t *testing.T) {
	ctx := context.Background()
	store := &jobstest.Configs{}
	records := Records{Engine: store}
	// Oldest first: a release, then five failed deploys.
	recs := []Record{deployAt(1, "v1", Released)}
	for m := 2; m <= 6; m++ {
		recs = append(recs, deployAt(m, "v2", JobFailed))
	}
	for _, r := range recs {
		r.Stack = "todo"
		if err := records.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := records.SaveSpecs(ctx, "todo", r.ID, Specs{"app": swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "todo_app"}}}); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := records.Prune(ctx, "todo", 2)
	if err != nil || removed != 3 {
		t.Fatalf("removed %d (%v), want the 3 failed deploys beyond the newest 2", removed, err)
	}
	left, _ := records.List(ctx, "todo")
	var versions []string
	for _, r := range left {
		versions = append(versions, r.ID)
		if _, ok, _ := records.Specs(ctx, "todo", r.ID); !ok {
			t.Errorf("deploy %s lost its specs", r.ID)
		}
	}
	if want := []string{recs[0].ID, recs[4].ID, recs[5].ID}; !slices.Equal(versions, want) {
		t.Errorf("kept %v, want the newest 2 and the newest release %v", versions, want)
	}
	if left, _ := store.ConfigList(ctx, client.ConfigListOptions{}); len(left.Items) != 6 {
		t.Errorf("%d configs left, want 3 records and their 3 specs", len(left.Items))
	}
}

func TestSpecsOfLeavesJobsOut(t *testing.T) {
	services := map[string]swarm.Service{
		"app":     {Spec: swarm.ServiceSpec{Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{}}}},
		"agent":   {Spec: swarm.ServiceSpec{Mode: swarm.ServiceMode{Global: &swarm.GlobalService{}}}},
		"migrate": {Spec: swarm.ServiceSpec{Mode: swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}}},
	}
	if got := SpecsOf(services).Names(); !slices.Equal(got, []string{"agent", "app"}) {
		t.Errorf("specs of %v, want the services and not the job", got)
	}
}

func TestKeptDeploys(t *testing.T) {
	v1, v2, v3 := deployAt(1, "v1", Released), deployAt(3, "v2", Released), deployAt(5, "v3", Released)
	back := deployAt(6, "v2", RolledBackTo)
	back.Restores = v2.ID
	v4, v4failed := deployAt(8, "v4", Released), deployAt(9, "v4", ServicesFailed)
	tests := []struct {
		name string
		recs []Record
		keep int
		want []Record
	}{
		{name: "the newest, and the release a rollback would put back", recs: []Record{v1, v2, v3}, keep: 1, want: []Record{v2, v3}},
		{name: "the release a rollback put back, live again", recs: []Record{v1, v2, v3, back}, keep: 1, want: []Record{v1, v2, back}},
		{name: "after a rollback and a new release", recs: []Record{v1, v2, v3, back, v4}, keep: 1, want: []Record{v2, v4}},
		{name: "a failed deploy: the live release it would go back to", recs: []Record{v1, v2, v4failed}, keep: 1, want: []Record{v2, v4failed}},
		{name: "all, when keep covers them", recs: []Record{v1, v2, v3}, keep: 50, want: []Record{v1, v2, v3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept := keptDeploys(tt.recs, tt.keep)
			var got []string
			for _, r := range tt.recs {
				if kept[r.ID] {
					got = append(got, r.Version+" "+string(r.Verdict))
				}
			}
			var want []string
			for _, r := range tt.want {
				want = append(want, r.Version+" "+string(r.Verdict))
			}
			if !slices.Equal(got, want) || len(kept) != len(tt.want) {
				t.Errorf("kept %v, want %v", got, want)
			}
		})
	}
}
