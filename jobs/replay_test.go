package jobs

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"jobrun/jobs/jobstest"
)

const digestImage = "app:v1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// keptSpec is a job's spec as a run keeps it: its own run ID in the
// labels, the job's placement.
func keptSpec() swarm.ServiceSpec {
	spec := testJob().Spec
	spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: digestImage, Args: []string{"python3", "manage.py", "migrate"},
		Labels: map[string]string{LabelJob: "migrate", LabelRunID: "run1"}}
	spec.TaskTemplate.Placement = &swarm.Placement{Constraints: []string{"node.role==worker"}}
	return spec
}

func TestReplayJob(t *testing.T) {
	rec := Record{RunID: "run1", Job: "migrate", Stack: "todo", Version: "v1", Image: digestImage, Mode: "replicated-job"}
	tests := []struct {
		name     string
		image    string // the kept spec's image, when not the record's
		command  []string
		wantArgs []string
	}{
		{name: "the attempt's own command", wantArgs: []string{"python3", "manage.py", "migrate"}},
		{name: "another command", command: []string{"python3", "manage.py", "showmigrations"}, wantArgs: []string{"python3", "manage.py", "showmigrations"}},
		{name: "the record's image wins over the spec's", image: "app:v1", wantArgs: []string{"python3", "manage.py", "migrate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := keptSpec()
			if tt.image != "" {
				spec.TaskTemplate.ContainerSpec.Image = tt.image
			}
			job, err := ReplayJob(rec, spec, "run2", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			command := tt.command
			if command == nil {
				command = job.Spec.TaskTemplate.ContainerSpec.Args
			}
			job, err = AsExec(job, ExecSpec{ID: "abcdef", Command: command, NodeID: "n2"})
			if err != nil {
				t.Fatal(err)
			}
			cs, p := job.Spec.TaskTemplate.ContainerSpec, job.Spec.TaskTemplate.Placement
			switch {
			case cs.Image != digestImage:
				t.Errorf("image %s, want the record's %s", cs.Image, digestImage)
			case !slices.Equal(cs.Args, tt.wantArgs):
				t.Errorf("command %q, want %q", cs.Args, tt.wantArgs)
			case p == nil || !slices.Equal(p.Constraints, []string{"node.role==worker", "node.id==n2"}):
				t.Errorf("placement %+v, want the job's constraint and node.id==n2", p)
			case job.Spec.Labels[LabelRunID] != "run2" || cs.Labels[LabelRunID] != "run2" || job.RunID != "run2":
				t.Errorf("labelled run %s/%s, want the replay's own run2", job.Spec.Labels[LabelRunID], cs.Labels[LabelRunID])
			case job.Spec.Name != "jobrun_todo_migrate_exec_abcdef" || job.Policy.MaxRuns != 1:
				t.Errorf("service %s, %d runs: want an exec's, once", job.Spec.Name, job.Policy.MaxRuns)
			}
			// Maps and slices are copied, not shared with the kept spec.
			if spec.Labels[LabelRunID] != "run1" || spec.TaskTemplate.ContainerSpec.Labels[LabelRunID] != "run1" || len(spec.TaskTemplate.Placement.Constraints) != 1 {
				t.Error("the kept spec was changed")
			}
		})
	}
}

func TestRunKeepsItsSpec(t *testing.T) {
	engine := &endingEngine{timeline: &timeline{}}
	rec, _ := finishRun(t, engine, RunOptions{})
	if rec.Spec != specName("run1") || rec.Attempts[0].Hostname != "host-n1" {
		t.Fatalf("record names spec %q and node %q, want %q and host-n1", rec.Spec, rec.Attempts[0].Hostname, specName("run1"))
	}
	saved, err := Records{Engine: engine}.Find(context.Background(), RecordFilter{RunID: "run1"}, 1)
	if err != nil || len(saved) != 1 {
		t.Fatalf("saved records %v (%v)", saved, err)
	}
	spec, ok, err := Records{Engine: engine}.Spec(context.Background(), saved[0])
	if err != nil || !ok || spec.Name != "jobrun_todo_migrate" {
		t.Errorf("kept spec %q (%t, %v), want the job service's", spec.Name, ok, err)
	}
}

func TestSpecOverSwarmsLimitIsNotKept(t *testing.T) {
	store := &jobstest.Configs{}
	spec := keptSpec()
	spec.TaskTemplate.ContainerSpec.Env = []string{"BIG=" + strings.Repeat("x", maxStoredSpec)}
	_, err := Records{Engine: store}.SaveSpec(context.Background(), Record{RunID: "run1"}, spec)
	if err == nil || !strings.Contains(err.Error(), "more than a Swarm config holds (500 KiB)") {
		t.Errorf("err %v, want the limit named", err)
	}
	if len(store.Created) != 0 {
		t.Errorf("created %q", store.Created)
	}
}

// A record from before specs were kept is read as keeping none.
func TestOldRecordKeepsNoSpec(t *testing.T) {
	store := &jobstest.Configs{}
	if err := (Records{Engine: store}).Save(context.Background(), Record{RunID: "run0", Job: "migrate", Stack: "todo"}, nil); err != nil {
		t.Fatal(err)
	}
	found, _ := Records{Engine: store}.Find(context.Background(), RecordFilter{RunID: "run0"}, 1)
	if len(found) != 1 {
		t.Fatal("no record")
	}
	if _, ok, err := (Records{Engine: store}).Spec(context.Background(), found[0]); ok || err != nil {
		t.Errorf("found a spec (%t, %v), want none", ok, err)
	}
}

// Pruning removes a run's spec with its record, and asks nothing of the
// runs that kept none.
func TestPruneRemovesSpecs(t *testing.T) {
	store := &jobstest.Configs{}
	records := Records{Engine: store}
	for i, keep := range []bool{true, false, true} {
		rec := Record{RunID: testRunID(i), Job: "migrate", Stack: "todo", Version: "v1", Outcome: Failed}
		if keep {
			rec.Spec, _ = records.SaveSpec(context.Background(), rec, keptSpec())
		}
		if err := records.Save(context.Background(), rec, nil); err != nil {
			t.Fatal(err)
		}
	}
	res, err := records.Prune(context.Background(), "todo", "migrate", 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.RemovedRecords != 2 || res.RemovedSpecs != 1 {
		t.Errorf("result %+v, want 2 records and 1 spec removed", res)
	}
	left, _ := store.ConfigList(context.Background(), swarm.ConfigListOptions{})
	var names []string
	for _, c := range left {
		names = append(names, c.Spec.Name)
	}
	if want := []string{specName(testRunID(2)), recordName(testRunID(2))}; !slices.Equal(names, want) {
		t.Errorf("left %q, want %q", names, want)
	}
}
