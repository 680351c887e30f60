package stackjobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/commands/cmdutil"
	"jobrun/commands/cmdutil/cmdtest"
	"jobrun/jobs"
)

// objectsEngine is a swarm manager with the stack's network, on which the
// job's secret does not exist yet; it keeps the secrets created.
type objectsEngine struct {
	*cmdtest.Engine
	secrets []swarm.Secret
}

func (e *objectsEngine) ClientVersion() string { return jobs.ReplicatedJobsAPI }

func (e *objectsEngine) NetworkInspect(_ context.Context, name string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	return client.NetworkInspectResult{Network: network.Inspect{Network: network.Network{ID: name, Name: name, Scope: "swarm"}}}, nil
}

func (e *objectsEngine) SecretInspect(_ context.Context, name string, _ client.SecretInspectOptions) (client.SecretInspectResult, error) {
	for _, s := range e.secrets {
		if s.Spec.Name == name {
			return client.SecretInspectResult{Secret: s}, nil
		}
	}
	return client.SecretInspectResult{}, cerrdefs.ErrNotFound.WithMessage("secret " + name + " not found")
}

func (e *objectsEngine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	e.secrets = append(e.secrets, swarm.Secret{ID: "id-" + o.Spec.Name, Spec: o.Spec})
	return client.SecretCreateResult{ID: "id-" + o.Spec.Name}, nil
}

func (e *objectsEngine) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	return client.SecretListResult{Items: e.secrets}, nil
}

// options are a run's as the flags' defaults leave them, with f's
// dependencies, of the stack file in dir.
func options(f *cmdutil.Factory, dir string) *Options {
	return &Options{
		Factory: f, Common: cmdutil.Common{Stack: "todobackend", ConnectTimeout: 10 * time.Second},
		Files: []string{filepath.Join(dir, "stack.yml")}, Version: "3db46c4", Output: "text",
		MaxAttempts: -1, ResolveImage: "never", PendingTimeout: 2 * time.Minute,
		Run:  jobs.RunOptions{Timeout: time.Hour, KeepRuns: jobs.DefaultKeep, Reconnect: 2 * time.Minute},
		Logs: jobs.LogOptions{Mode: "auto", FlushWait: 5 * time.Second, DrainTimeout: 30 * time.Second},
	}
}

// TestSucceededVersionCreatesNothing: the jobs of a version that already
// succeeded are skipped, each told when its turn comes, in order or at
// once, and leave the engine as it was: no job is built, so no secret of
// theirs is created for a run that never starts.
func TestSucceededVersionCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	job := "    image: busybox\n    secrets: [pw]\n"
	stack := "version: \"3.7\"\nservices:\n  migrate:\n" + job + "  collectstatic:\n" + job + "secrets:\n  pw: {file: ./pw.txt}\n"
	for name, text := range map[string]string{"stack.yml": stack, "pw.txt": "s3cr3t"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, parallel := range []bool{false, true} {
		t.Run(fmt.Sprintf("parallel %t", parallel), func(t *testing.T) {
			engine := &objectsEngine{Engine: &cmdtest.Engine{}}
			at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
			if err := engine.Save("todobackend", cmdtest.Run{Job: "migrate", Version: "3db46c4", Outcome: jobs.Succeeded, At: at},
				cmdtest.Run{Job: "collectstatic", Version: "3db46c4", Outcome: jobs.Succeeded, At: at.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
			f, _, errb := cmdtest.FactoryFor(engine, at.Add(time.Hour))
			o := options(f, dir)
			o.Parallel = parallel
			o.Built = func(_ context.Context, _ *Session, job jobs.Job) { t.Errorf("job %s built, want none", job.Name) }
			names := []string{"migrate", "collectstatic"}
			recs, ended := runJobs(t, o, names)
			if len(recs) != 2 || !recs[0].Skipped || !recs[1].Skipped || recs[0].Job != "migrate" || len(ended) != 2 {
				t.Errorf("records %+v, told of %q: want both skipped, in order, each told", recs, ended)
			}
			for _, name := range names {
				if !strings.Contains(errb.String(), "jobrun: "+name+": version 3db46c4 already succeeded") {
					t.Errorf("stderr %q, want %s said to have succeeded already", errb.String(), name)
				}
			}
			if len(engine.secrets) != 0 {
				t.Errorf("secrets created %v, want none for a run that is skipped", engine.secrets[0].Spec.Name)
			}
		})
	}
}

// runJobs loads, opens and runs the named jobs as a command does, and
// returns their records and the jobs whose end it was told of.
func runJobs(t *testing.T, o *Options, names []string) ([]jobs.Record, []string) {
	t.Helper()
	spec, stack, err := o.Load()
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open(context.Background(), stack, spec, names[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mu sync.Mutex
	var ended []string
	recs, err := s.Jobs(context.Background(), names, func(rec jobs.Record, _ error) {
		mu.Lock()
		defer mu.Unlock()
		ended = append(ended, rec.Job)
	})
	if err != nil {
		t.Fatalf("jobs: %v, want the skips' nil", err)
	}
	return recs, ended
}
