package plan_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"jobrun/commands"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

const stackFile = `version: "3.7"
services:
  migrate:
    image: app:${APP_VERSION}
    command: [python3, manage.py, migrate]
    x-jobrun: {plan: [python3, manage.py, migrate, --plan]}
  collectstatic:
    image: app:${APP_VERSION}
  seed:
    image: app:${APP_VERSION}
    x-jobrun: {plan: python3 manage.py seed --dry-run}
`

// engine is a manager with the stack's network and no image: a plan's
// exec never reaches ServiceCreate, which cmdtest.Engine does not have.
type engine struct{ cmdtest.Engine }

func (e *engine) ClientVersion() string { return jobs.ReplicatedJobsAPI }

func (e *engine) NetworkInspect(_ context.Context, name string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	return client.NetworkInspectResult{Network: network.Inspect{Network: network.Network{ID: name, Name: name, Scope: "swarm"}}}, nil
}

func (e *engine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + ref)
}

func (e *engine) DistributionInspect(context.Context, string, client.DistributionInspectOptions) (client.DistributionInspectResult, error) {
	return client.DistributionInspectResult{}, errors.New("Error response from daemon: manifest unknown")
}

// jobrunPlan is `jobrun plan ARGS` on the command line, against e.
func jobrunPlan(t *testing.T, e *engine, args ...string) (string, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stack.yml")
	if err := os.WriteFile(path, []byte(stackFile), 0o644); err != nil {
		t.Fatal(err)
	}
	f, out, errb := cmdtest.FactoryFor(e, time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	args = append([]string{"jobrun", "plan", "--stack", "todo", "-c", path, "--resolve-image", "never"}, args...)
	err := commands.NewApp(f, "test").Run(context.Background(), args)
	return out.String(), errb.String(), err
}

// Every mistake: one line naming the fix, exit 2, and no record made.
func TestPlanUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "name one job: jobrun plan JOB [--version V]"},
		{[]string{"migrate", "seed"}, "name one job: jobrun plan JOB [--version V]"},
		{[]string{"migrat"}, `job "migrat" is not a service in the stack file; it has: collectstatic, migrate, seed`},
		{[]string{"collectstatic"}, "job collectstatic has no plan (x-jobrun plan): add one to it in the stack file, e.g. x-jobrun: {plan: [python3, manage.py, migrate, --plan]}"},
		{[]string{"seed"}, "job seed: x-jobrun plan python3 manage.py seed --dry-run is not a command as a list of words"},
		{[]string{"migrate", "--plan-timeout", "0s"}, "--plan-timeout 0s must be positive: use e.g. 2m"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := &engine{}
			out, _, err := jobrunPlan(t, e, append([]string{"--version", "v1"}, tt.args...)...)
			jobstest.WantExit(t, err, jobs.ExitUsage, tt.want)
			if n := len(e.Configs.Created); out != "" || n != 0 {
				t.Errorf("a usage error wrote %q and made %d records", out, n)
			}
		})
	}
}

// TestPlanNotRun: a plan whose image does not exist is not run: a WARNING
// with the plan's line, on stdout in text or JSON and on stderr, exit 14.
func TestPlanNotRun(t *testing.T) {
	warning := "WARNING: plan python3 manage.py migrate --plan: not run: image app:v2 does not exist: the engine jobrun talks to has none, and its registry says: manifest unknown"
	e := &engine{}
	out, stderr, err := jobrunPlan(t, e, "migrate", "--version", "v2")
	jobstest.WantExit(t, err, jobs.ExitPlanWarning)
	if want := "job migrate, version v2:\n    " + warning + "\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if !strings.Contains(stderr, "jobrun: migrate: "+warning+"\n") {
		t.Errorf("stderr does not say it:\n%s", stderr)
	}

	out, _, err = jobrunPlan(t, e, "migrate", "--version", "v2", "-o", "json")
	jobstest.WantExit(t, err, jobs.ExitPlanWarning)
	var doc struct {
		Plan struct {
			Command  []string
			ExitCode *int `json:"exitCode"`
			Warning  string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Plan.Command) != 4 || doc.Plan.ExitCode != nil || "WARNING: plan python3 manage.py migrate --plan: "+doc.Plan.Warning != warning {
		t.Errorf("-o json %+v (%v), want the plan not run\n%s", doc, err, out)
	}
	if n := len(e.Configs.Created); n != 0 {
		t.Errorf("a plan not run made %d records", n)
	}
}
