package deploy

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"jobrun/clocktest"
	"jobrun/jobs"
	"jobrun/jobs/jobstest"
)

// removingSwarm is an engine on which the stack's network todo_default is
// being removed: its old copy is inspected until the gone-th look, then a
// new one (newID) or none. Created lists the networks created.
type removingSwarm struct {
	client.APIClient
	gone    int
	newID   string
	looks   int
	Created []string
}

func (e *removingSwarm) NetworkInspect(_ context.Context, name string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	e.looks++
	switch {
	case e.gone == 0 || e.looks < e.gone:
		return client.NetworkInspectResult{Network: network.Inspect{Network: network.Network{ID: "old", Name: name}}}, nil
	case e.newID != "":
		return client.NetworkInspectResult{Network: network.Inspect{Network: network.Network{ID: e.newID, Name: name}}}, nil
	}
	return client.NetworkInspectResult{}, cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", name))
}

func (e *removingSwarm) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{}, nil
}

func (e *removingSwarm) NetworkCreate(_ context.Context, name string, _ client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	e.Created = append(e.Created, name)
	return client.NetworkCreateResult{ID: "new"}, nil
}

// TestRemakeNetwork: a network being removed is waited for, a second at a
// time on the release's clock, until the engine lets go of it (none of its
// name, or a new one), then the stack's networks are created again; one
// that stays is an engine error after the bound.
func TestRemakeNetwork(t *testing.T) {
	tests := []struct {
		name        string
		engine      *removingSwarm
		wantLooks   int
		wantWaits   int // of a second each
		wantCreated int
		wantErr     string
	}{
		{name: "its removal ends", engine: &removingSwarm{gone: 3}, wantLooks: 3, wantWaits: 2, wantCreated: 1},
		{name: "another deploy made it anew", engine: &removingSwarm{gone: 2, newID: "other"}, wantLooks: 2, wantWaits: 1, wantCreated: 1},
		{name: "it stays", engine: &removingSwarm{}, wantLooks: int(removalWait/time.Second) + 1, wantWaits: int(removalWait / time.Second), wantErr: "network todo_default is still being removed after 2m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.New(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
			clock.AutoAdvance(t.Context())
			var out bytes.Buffer
			s := Stack{Engine: tt.engine, Name: "todo", Out: &out, After: clock.After,
				Config: &composetypes.Config{Services: []composetypes.ServiceConfig{{Name: "app"}}}}
			err := s.RemakeNetwork(context.Background(), "todo_default")
			if tt.wantErr != "" {
				jobstest.WantExit(t, err, jobs.ExitEngine, tt.wantErr)
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.engine.looks != tt.wantLooks || len(tt.engine.Created) != tt.wantCreated {
				t.Errorf("%d looks, created %q: want %d looks, %d created", tt.engine.looks, tt.engine.Created, tt.wantLooks, tt.wantCreated)
			}
			if asked := clock.Asked(); len(asked) != tt.wantWaits || len(asked) > 0 && asked[0] != time.Second {
				t.Errorf("waits %v, want %d of 1s", asked, tt.wantWaits)
			}
			if want := "network todo_default is being removed (docker stack rm under way): waiting for its removal to end, then creating it again\n"; !bytes.HasPrefix(out.Bytes(), []byte(want)) {
				t.Errorf("said %q, want it to begin %q", out.String(), want)
			}
		})
	}
}
