package stackjobs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// networklessEngine is a swarm manager without the stack's network until
// made says it was made.
type networklessEngine struct {
	*cmdtest.Engine
	made bool
}

func (e *networklessEngine) ClientVersion() string { return jobs.ReplicatedJobsAPI }

func (e *networklessEngine) NetworkInspect(_ context.Context, name string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	if !e.made {
		return client.NetworkInspectResult{}, cerrdefs.ErrNotFound.WithMessage("network " + name + " not found")
	}
	return client.NetworkInspectResult{Network: network.Inspect{Network: network.Network{ID: name, Name: name, Scope: "swarm"}}}, nil
}

// TestBuildRemakesAMissingNetwork: a release (Networks set) that finds a
// job's network gone makes it again and builds the job; a run, which makes
// no network, says to deploy the stack first (exit 2).
func TestBuildRemakesAMissingNetwork(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "stack.yml"), []byte("version: \"3.7\"\nservices:\n  migrate: {image: busybox}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, release := range []bool{true, false} {
		engine := &networklessEngine{Engine: &cmdtest.Engine{}}
		f, _, _ := cmdtest.FactoryFor(engine, time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
		o := options(f, dir)
		var made []string
		if release {
			o.Networks = func(_ context.Context, name string) error { made, engine.made = append(made, name), true; return nil }
		}
		job, err := openSession(t, o).Build(context.Background(), "migrate")
		switch {
		case release && (err != nil || job.Name != "migrate" || !slices.Equal(made, []string{"todobackend_default"})):
			t.Errorf("release: job %q, err %v, made %q: want migrate built once todobackend_default was made", job.Name, err, made)
		case !release:
			jobstest.WantExit(t, err, jobs.ExitUsage, "network todobackend_default does not exist: deploy the stack first")
		}
	}
}
