package jobs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// racingEngine is an engine on which another jobrun creates every secret
// and config between this one's inspect and create.
type racingEngine struct {
	client.APIClient
	created int
}

func (e *racingEngine) SecretInspect(context.Context, string, client.SecretInspectOptions) (client.SecretInspectResult, error) {
	return client.SecretInspectResult{}, cerrdefs.ErrNotFound.WithMessage("secret not found")
}

func (e *racingEngine) SecretCreate(context.Context, client.SecretCreateOptions) (client.SecretCreateResult, error) {
	e.created++
	return client.SecretCreateResult{}, cerrdefs.ErrConflict.WithMessage("rpc error: code = AlreadyExists desc = secret it_pw already exists")
}

func (e *racingEngine) ConfigInspect(context.Context, string, client.ConfigInspectOptions) (client.ConfigInspectResult, error) {
	return client.ConfigInspectResult{}, cerrdefs.ErrNotFound.WithMessage("config not found")
}

func (e *racingEngine) ConfigCreate(context.Context, client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	e.created++
	return client.ConfigCreateResult{}, cerrdefs.ErrConflict.WithMessage("rpc error: code = AlreadyExists desc = config it_settings already exists")
}

// TestJobObjectsCreatedBySomeoneElseMeanwhile: two jobruns starting
// together both find the job's secret and config missing; the one whose
// create the engine refuses as a conflict goes on with the other's.
func TestJobObjectsCreatedBySomeoneElseMeanwhile(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"pw.txt":       "s3cr3t",
		"settings.ini": "[db]\n",
		"stack.yml": `version: "3.7"
services:
  migrate:
    image: app:v1
    secrets: [pw]
    configs: [settings]
secrets:
  pw: {file: ./pw.txt}
configs:
  settings: {file: ./settings.ini}
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stack, err := LoadStack("it", []string{filepath.Join(dir, "stack.yml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := stack.Service("migrate")
	if err != nil {
		t.Fatal(err)
	}
	engine := &racingEngine{}
	var told []string
	if err := createJobObjects(context.Background(), engine, stack, svc, func(s string) { told = append(told, s) }); err != nil {
		t.Fatalf("createJobObjects: %v, want the other jobrun's objects taken", err)
	}
	if engine.created != 2 || len(told) != 0 {
		t.Errorf("creates tried %d, told %q: want both tried, none said created by this run", engine.created, told)
	}
}
