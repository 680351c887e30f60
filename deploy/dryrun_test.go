package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// emptySwarm is a swarm manager with no stack on it, and only the reads a
// dry run makes: it embeds the client interface, so any other call, a
// write among them, panics.
type emptySwarm struct{ client.APIClient }

var errNone = cerrdefs.ErrNotFound.WithMessage("not found")

func (emptySwarm) ClientVersion() string { return "1.41" }
func (emptySwarm) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{}, nil
}
func (emptySwarm) NetworkInspect(context.Context, string, client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	return client.NetworkInspectResult{}, errNone
}
func (emptySwarm) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	return client.ServiceListResult{}, nil
}
func (emptySwarm) SecretInspect(context.Context, string, client.SecretInspectOptions) (client.SecretInspectResult, error) {
	return client.SecretInspectResult{}, errNone
}
func (emptySwarm) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	return client.SecretListResult{}, nil
}

// loadStack writes files (stack.yml and what it reads) to a folder of their
// own and loads stack.yml as stack todo.
func loadStack(t *testing.T, files map[string]string) *jobs.Stack {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	stack, err := jobs.LoadStack("todo", []string{filepath.Join(dir, "stack.yml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return stack
}

// TestDryRunFirstDeploy: on a first deploy the stack's own secret does not
// exist yet; the dry run converts the service as if it did, and names the
// external network the deploy would fail on.
func TestDryRunFirstDeploy(t *testing.T) {
	stack := loadStack(t, map[string]string{"token.txt": "s3cret", "stack.yml": `version: "3.7"
services:
  app:
    image: app:v1
    secrets: [token]
    networks: [outside]
networks:
  outside: {external: true}
secrets:
  token: {file: ./token.txt}
`})
	got, err := Stack{Engine: emptySwarm{}, Name: "todo", Config: stack.Config}.DryRun(context.Background(), []string{"app"}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := Preview{
		Create:   []Object{{Kind: "secret", Name: "todo_token"}},
		Services: []ServiceDiff{{Service: "app", Action: Create}},
		Problems: []string{"network outside is external and does not exist: create it with docker network create -d overlay --attachable outside"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DryRun:\n got %+v\nwant %+v", got, want)
	}
}

// configSwarm is emptySwarm holding the stack's config todo_site with data.
type configSwarm struct {
	emptySwarm
	data string
}

func (c configSwarm) config() swarm.Config {
	return swarm.Config{ID: "c1", Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "todo_site"}, Data: []byte(c.data)}}
}

func (c configSwarm) ConfigInspect(context.Context, string, client.ConfigInspectOptions) (client.ConfigInspectResult, error) {
	return client.ConfigInspectResult{Config: c.config()}, nil
}

func (c configSwarm) ConfigList(context.Context, client.ConfigListOptions) (client.ConfigListResult, error) {
	return client.ConfigListResult{Items: []swarm.Config{c.config()}}, nil
}

// TestDryRunChangedConfig: a config whose file changed since it was
// deployed would fail the deploy, which cannot change its data; the dry run
// says so and names the fix. (A secret's data cannot be read back.)
func TestDryRunChangedConfig(t *testing.T) {
	stack := loadStack(t, map[string]string{"site.conf": "listen 8080", "stack.yml": `version: "3.7"
services:
  app:
    image: app:v1
    configs: [site]
configs:
  site: {file: ./site.conf}
`})
	for deployed, want := range map[string][]string{
		"listen 8080": nil,
		"listen 80":   {"config todo_site in the stack file has other data than the swarm's, and Swarm cannot change a config's data: give it a new name in the stack file (name: todo_site_v2, say) and deploy again"},
	} {
		got, err := Stack{Engine: configSwarm{data: deployed}, Name: "todo", Config: stack.Config}.DryRun(context.Background(), []string{"app"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Problems, want) {
			t.Errorf("deployed %q: problems %q, want %q", deployed, got.Problems, want)
		}
	}
}

// TestReadOnlyRefusesWrites: the engine the converter runs on writes
// nothing, whatever it is asked.
func TestReadOnlyRefusesWrites(t *testing.T) {
	ro, ctx := &readOnly{}, context.Background()
	writes := map[string]func() error{
		"ServiceCreate": func() error {
			_, err := ro.ServiceCreate(ctx, client.ServiceCreateOptions{})
			return err
		},
		"ServiceUpdate": func() error {
			_, err := ro.ServiceUpdate(ctx, "x", client.ServiceUpdateOptions{})
			return err
		},
		"ServiceRemove": func() error { _, err := ro.ServiceRemove(ctx, "x", client.ServiceRemoveOptions{}); return err },
		"NetworkCreate": func() error { _, err := ro.NetworkCreate(ctx, "x", client.NetworkCreateOptions{}); return err },
		"SecretCreate": func() error {
			_, err := ro.SecretCreate(ctx, client.SecretCreateOptions{})
			return err
		},
		"ConfigCreate": func() error {
			_, err := ro.ConfigCreate(ctx, client.ConfigCreateOptions{})
			return err
		},
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, errReadOnly) {
			t.Errorf("%s: %v, want it refused", name, err)
		}
	}
}

// registry answers DistributionInspect with digest, or err; it counts the
// questions.
type registry struct {
	client.APIClient
	digest string
	err    error
	asked  int
}

func (r *registry) DistributionInspect(context.Context, string, client.DistributionInspectOptions) (client.DistributionInspectResult, error) {
	r.asked++
	var d client.DistributionInspectResult // as the engine sends it
	err := json.Unmarshal([]byte(`{"Descriptor": {"digest": "`+r.digest+`"}}`), &d)
	return d, errors.Join(err, r.err)
}

func TestRepinned(t *testing.T) {
	old, moved := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	spec := func(image string) swarm.ServiceSpec {
		return swarm.ServiceSpec{Annotations: swarm.Annotations{Labels: map[string]string{"com.docker.stack.image": "app:v1"}},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}}}
	}
	tests := []struct {
		name, resolve, image string
		registry             registry
		changes              []Change
		want                 *Change
		asked                int
	}{
		{name: "pushed again", resolve: "always", image: "app:v1@" + old, registry: registry{digest: moved}, asked: 1,
			want: &Change{Field: "image", Change: "changed", Old: "app:v1@" + old, New: "app:v1@" + moved}},
		{name: "the same digest", resolve: "always", image: "app:v1@" + old, registry: registry{digest: old}, asked: 1},
		{name: "no registry", resolve: "always", image: "app:v1@" + old, registry: registry{err: errors.New("401")}, asked: 1},
		{name: "changed keeps the pin", resolve: "changed", image: "app:v1@" + old},
		{name: "never keeps the pin", resolve: "never", image: "app:v1@" + old},
		{name: "not pinned", resolve: "always", image: "app:v1"},
		{name: "a new tag is shown already", resolve: "always", image: "app:v1@" + old, changes: []Change{{Field: "image"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := tt.registry
			got, ok := Stack{Engine: &reg, ResolveImage: tt.resolve}.repinned(context.Background(), spec(tt.image), tt.changes)
			if ok != (tt.want != nil) || ok && got != *tt.want || reg.asked != tt.asked {
				t.Errorf("repinned: %+v %v after %d questions, want %+v after %d", got, ok, reg.asked, tt.want, tt.asked)
			}
		})
	}
}
