package deploy_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/deploy"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// A dry run against the fake swarm: what it says, line by line, and that
// the swarm is as it was.
func TestDeployDryRun(t *testing.T) {
	at := time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)
	changedApp := strings.Replace(dbAndApp, "  app:\n    image: busybox\n", "  app:\n    image: busybox:1.37\n    environment: {PASSWORD: hunter2}\n", 1)
	tests := []struct {
		name     string
		deployed string // the stack file deployed before the dry run
		migrated bool   // migrate v1 already succeeded
		locked   bool   // another deploy holds the lock
		stack    string
		args     []string
		want     string
		stderr   string // a line of stderr
	}{
		{name: "a first release", stack: withMigrate, migrated: true, locked: true, want: `dry run: deploying stack todo version v1 would:
+ network todo_default: create
+ service db: create
= job migrate (pre-deploy): skip, version v1 already succeeded (run RUN; --force runs it again)
    no plan (x-jobrun plan)
+ service app: create
nothing was changed (dry run)
`},
		{name: "--force runs the job again", stack: withMigrate, migrated: true, args: []string{"--force"}, want: `dry run: deploying stack todo version v1 would:
+ network todo_default: create
+ service db: create
+ job migrate (pre-deploy): run
    no plan (x-jobrun plan)
+ service app: create
nothing was changed (dry run)
`},
		{name: "the same file again", deployed: dbAndApp, stack: dbAndApp, want: `dry run: deploying stack todo version v1 would:
= service db: unchanged
= service app: unchanged
nothing was changed (dry run)
`},
		{name: "a new image and env", deployed: dbAndApp, stack: changedApp, want: `dry run: deploying stack todo version v1 would:
= service db: unchanged
~ service app: update
    image: busybox → busybox:1.37
    env PASSWORD: added
nothing was changed (dry run)
`},
		{name: "a job deployed the old way as a service", deployed: strings.Replace(withMigrate, "    x-jobrun: {phase: pre-deploy}\n", "", 1),
			stack: withMigrate, args: []string{"--prune"}, want: `dry run: deploying stack todo version v1 would:
= service db: unchanged
+ job migrate (pre-deploy): run
    no plan (x-jobrun plan)
= service app: unchanged
- service migrate: remove
nothing was changed (dry run)
`, stderr: "jobrun: deploy: service todo_migrate runs job migrate as an ordinary service (the old way of deploying jobs): --prune removes it\n"},
		{name: "--prune", deployed: dbAndApp, stack: withoutApp(dbAndApp), args: []string{"--prune"}, want: `dry run: deploying stack todo version v1 would:
= service db: unchanged
- service app: remove
nothing was changed (dry run)
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := dryRunSwarm(t, tt.deployed, tt.migrated, tt.locked, at)
			before := engine.state()
			rec, _, _ := jobs.Records{Engine: engine}.Succeeded(context.Background(), "todo", "migrate", "v1")
			want := strings.Replace(tt.want, "RUN", rec.RunID, 1)
			out, stderr, err := jobrunDeploy(t, engine, tt.stack, append([]string{"--dry-run"}, tt.args...)...)
			if err != nil {
				t.Fatalf("exit: %v\n%s", err, stderr)
			}
			if out != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr)
			}
			if strings.Contains(out+stderr, "hunter2") {
				t.Errorf("the dry run shows an env value")
			}
			if warned := strings.Contains(stderr, "jobrun: deploy: WARNING: another deploy of stack todo holds its lock (version v9"); warned != tt.locked {
				t.Errorf("lock warning %v, want %v:\n%s", warned, tt.locked, stderr)
			}
			if after := engine.state(); !reflect.DeepEqual(after, before) {
				t.Errorf("the dry run changed the swarm:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

// TestDeployDryRunJSON: -o json is one document, {"dry_run": …}.
func TestDeployDryRunJSON(t *testing.T) {
	engine := dryRunSwarm(t, dbAndApp, false, false, time.Now())
	out, stderr, err := jobrunDeploy(t, engine, withMigrate, "--dry-run", "-o", "json")
	if err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr)
	}
	var doc map[string]struct {
		Stack   string
		Version string
		Steps   []struct {
			Job     string
			Phase   string
			Service *deploy.ServiceDiff
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	d, ok := doc["dry_run"]
	if !ok || d.Stack != "todo" || d.Version != "v1" || len(d.Steps) != 3 {
		t.Fatalf("document %+v, want dry_run of todo v1 with 3 steps", doc)
	}
	if d.Steps[0].Service.Service != "db" || d.Steps[1].Job != "migrate" || d.Steps[1].Phase != "pre-deploy" || d.Steps[2].Service.Action != deploy.Keep {
		t.Errorf("steps %+v, want db, migrate, app unchanged", d.Steps)
	}
}

// TestDeployDryRunPlans: each job's plan is said under it, in the text
// and in -o json; a plan that cannot run (here: its version's image does
// not exist) is a WARNING and exit 14, and creates nothing.
func TestDeployDryRunPlans(t *testing.T) {
	stack := strings.Replace(withMigrate, "{phase: pre-deploy}", "{phase: pre-deploy, plan: [python3, manage.py, migrate, --plan]}", 1) + `  smoke:
    image: busybox
    x-jobrun: {phase: post-deploy}
`
	engine := dryRunSwarm(t, dbAndApp, false, false, time.Now())
	before := engine.state()
	out, stderr, err := jobrunDeploy(t, engine, stack, "--dry-run")
	jobstest.WantExit(t, err, jobs.ExitPlanWarning)
	warning := "WARNING: plan python3 manage.py migrate --plan: not run: image busybox does not exist: the engine jobrun talks to has none, and its registry says: manifest unknown"
	want := `dry run: deploying stack todo version v1 would:
= service db: unchanged
+ job migrate (pre-deploy): run
    ` + warning + `
= service app: unchanged
+ job smoke (post-deploy): run
    no plan (x-jobrun plan)
nothing was changed (dry run)
`
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(stderr, "jobrun: migrate: "+warning+"\n") {
		t.Errorf("stderr does not say the warning:\n%s", stderr)
	}
	if after := engine.state(); !reflect.DeepEqual(after, before) {
		t.Errorf("the dry run changed the swarm:\nbefore %+v\nafter  %+v", before, after)
	}

	out, _, err = jobrunDeploy(t, engine, stack, "--dry-run", "-o", "json")
	jobstest.WantExit(t, err, jobs.ExitPlanWarning)
	var doc struct {
		DryRun struct {
			Steps []struct {
				Plan *struct {
					Command  []string
					ExitCode *int `json:"exitCode"`
					Output   string
					Warning  string
				}
			}
		} `json:"dry_run"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.DryRun.Steps) != 4 {
		t.Fatalf("-o json: %v, %d steps\n%s", err, len(doc.DryRun.Steps), out)
	}
	plan, smoke := doc.DryRun.Steps[1].Plan, doc.DryRun.Steps[3].Plan
	if plan == nil || strings.Join(plan.Command, " ") != "python3 manage.py migrate --plan" || plan.ExitCode != nil || !strings.HasPrefix(plan.Warning, "not run: image busybox does not exist") || smoke != nil {
		t.Errorf("plans in -o json: migrate %+v, smoke %+v; want migrate's not run, smoke none", plan, smoke)
	}
}

// dryRunSwarm is a fake swarm with the stack file deployed (unless ""),
// a success of migrate v1 recorded and another deploy holding the lock if
// asked.
func dryRunSwarm(t *testing.T, deployed string, migrated, locked bool, at time.Time) *fakeSwarm {
	t.Helper()
	engine := newFakeSwarm()
	if deployed != "" {
		if _, stderr, err := jobrunDeploy(t, engine, deployed, "--deploy-timeout", "1s"); err != nil {
			t.Fatalf("deploy: %v\n%s", err, stderr)
		}
	}
	if migrated {
		if err := engine.Save("todo", cmdtest.Run{Job: "migrate", Version: "v1", Outcome: jobs.Succeeded, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	if locked {
		lock := &deploy.Lock{Engine: engine, Stack: "todo", Now: time.Now}
		if err := lock.Acquire(context.Background(), "v9", 0); err != nil {
			t.Fatal(err)
		}
	}
	return engine
}

// ImageInspect: the fake swarm's node has no image, and its registry
// knows none.
func (s *fakeSwarm) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
}

func (s *fakeSwarm) DistributionInspect(context.Context, string, client.DistributionInspectOptions) (client.DistributionInspectResult, error) {
	return client.DistributionInspectResult{}, errors.New("Error response from daemon: manifest unknown")
}

// state is all the fake swarm holds: services, networks, configs.
func (s *fakeSwarm) state() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfgs, _ := s.Engine.ConfigList(context.Background(), client.ConfigListOptions{})
	return []any{append([]swarm.Service(nil), s.services...), len(s.networks), append([]string(nil), s.created...), cfgs}
}

func withoutApp(stack string) string {
	i := strings.Index(stack, "  app:\n")
	return stack[:i]
}
