package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// racingEngine is an engine on which another jobrun creates every secret
// and config between this one's inspect and create.
type racingEngine struct {
	client.APIClient
	created int
}

func (e *racingEngine) SecretInspectWithRaw(context.Context, string) (swarm.Secret, []byte, error) {
	return swarm.Secret{}, nil, errdefs.NotFound(errors.New("secret not found"))
}

func (e *racingEngine) SecretCreate(context.Context, swarm.SecretSpec) (swarm.SecretCreateResponse, error) {
	e.created++
	return swarm.SecretCreateResponse{}, errdefs.Conflict(errors.New("rpc error: code = AlreadyExists desc = secret it_pw already exists"))
}

func (e *racingEngine) ConfigInspectWithRaw(context.Context, string) (swarm.Config, []byte, error) {
	return swarm.Config{}, nil, errdefs.NotFound(errors.New("config not found"))
}

func (e *racingEngine) ConfigCreate(context.Context, swarm.ConfigSpec) (swarm.ConfigCreateResponse, error) {
	e.created++
	return swarm.ConfigCreateResponse{}, errdefs.Conflict(errors.New("rpc error: code = AlreadyExists desc = config it_settings already exists"))
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
