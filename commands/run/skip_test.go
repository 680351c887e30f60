package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"

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

func (e *objectsEngine) NetworkInspect(_ context.Context, name string, _ network.InspectOptions) (network.Inspect, error) {
	return network.Inspect{ID: name, Name: name, Scope: "swarm"}, nil
}

func (e *objectsEngine) SecretInspectWithRaw(_ context.Context, name string) (swarm.Secret, []byte, error) {
	for _, s := range e.secrets {
		if s.Spec.Name == name {
			return s, nil, nil
		}
	}
	return swarm.Secret{}, nil, errdefs.NotFound(errors.New("secret " + name + " not found"))
}

func (e *objectsEngine) SecretCreate(_ context.Context, spec swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	e.secrets = append(e.secrets, swarm.Secret{ID: "id-" + spec.Name, Spec: spec})
	return swarm.SecretCreateResponse{ID: "id-" + spec.Name}, nil
}

func (e *objectsEngine) SecretList(context.Context, swarm.SecretListOptions) ([]swarm.Secret, error) {
	return e.secrets, nil
}

// TestSucceededVersionCreatesNothing: a run of a version that already
// succeeded says so and leaves the engine as it was: the job's secret is
// not created for a run that never starts.
func TestSucceededVersionCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	stack := "version: \"3.7\"\nservices:\n  migrate:\n    image: busybox\n    secrets: [pw]\nsecrets:\n  pw: {file: ./pw.txt}\n"
	for name, text := range map[string]string{"stack.yml": stack, "pw.txt": "s3cr3t"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	engine := &objectsEngine{Engine: &cmdtest.Engine{}}
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	if err := engine.Save("todobackend", cmdtest.Run{Job: "migrate", Version: "3db46c4", Outcome: jobs.Succeeded, At: at}); err != nil {
		t.Fatal(err)
	}
	f, _, errb := cmdtest.FactoryFor(engine, at.Add(time.Hour))
	o := valid()
	o.Files, o.ResolveImage, o.Run.QueryRegistry, o.Factory = []string{filepath.Join(dir, "stack.yml")}, "never", false, f
	if err := Run(context.Background(), &o); err != nil {
		t.Fatalf("run: %v, want the skip's exit 0", err)
	}
	if !strings.Contains(errb.String(), "version 3db46c4 already succeeded") {
		t.Errorf("stderr %q, want the version said to have succeeded already", errb.String())
	}
	if len(engine.secrets) != 0 {
		t.Errorf("secrets created %v, want none for a run that is skipped", engine.secrets[0].Spec.Name)
	}
}
