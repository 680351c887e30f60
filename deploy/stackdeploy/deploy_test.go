package stackdeploy

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

const stackFile = `services:
  web:
    image: nginx:1.25
    networks: [front, ext]
    secrets: [s]
    configs: [c]
  db:
    image: postgres:16
networks:
  front: {}
  ext: {external: true, name: shared}
secrets:
  s: {file: ./s.txt}
configs:
  c: {file: ./c.txt}
`

// stack is the test stack "app": two services, an own and an external
// network, a secret and a config.
func stack(t *testing.T) *composetypes.Config {
	return loadStack(t, stackFile, map[string]string{"s.txt": "secret", "c.txt": "config"})
}

// swarmWith is an engine that has the external network the stack needs.
func swarmWith(services ...swarm.Service) *fakeEngine {
	return &fakeEngine{services: services, networks: []network.Inspect{{Network: network.Network{Name: "shared", Scope: "swarm"}}}}
}

// deployed is a service of stack app as an earlier deploy left it: image
// is the stack file's, pinned to the digest the registry gave.
func deployed(id, name, image string) swarm.Service {
	svc := swarm.Service{ID: id}
	svc.Version = swarm.Version{Index: 7}
	svc.Spec.Name = "app_" + name
	svc.Spec.Labels = map[string]string{convert.LabelNamespace: "app", convert.LabelImage: image}
	svc.Spec.TaskTemplate.ContainerSpec = &swarm.ContainerSpec{Image: image + "@sha256:0123"}
	svc.Spec.TaskTemplate.ForceUpdate = 3
	return svc
}

type run struct {
	out, warn bytes.Buffer
	err       error
}

func deploy(t *testing.T, engine *fakeEngine, d Deployer, cfg *composetypes.Config) *run {
	t.Helper()
	r := &run{}
	d.Engine, d.Out, d.Warn = engine, &r.out, &r.warn
	if d.Namespace == "" {
		d.Namespace = "app"
	}
	r.err = d.Deploy(context.Background(), cfg)
	return r
}

func TestDeployCreates(t *testing.T) {
	engine := swarmWith()
	r := deploy(t, engine, Deployer{}, stack(t))
	if r.err != nil {
		t.Fatal(r.err)
	}
	wantCalls := []string{"inspect network shared", "create network app_default", "create network app_front",
		"create secret app_s", "create config app_c", "create service app_db", "create service app_web"}
	if !reflect.DeepEqual(engine.calls, wantCalls) {
		t.Errorf("calls %q\nwant %q", engine.calls, wantCalls)
	}
	wantOut := "Creating network app_default\nCreating network app_front\nCreating secret app_s\nCreating config app_c\nCreating service app_db\nCreating service app_web\n"
	if r.out.String() != wantOut {
		t.Errorf("out %q\nwant %q", r.out.String(), wantOut)
	}
	if r.warn.Len() != 0 {
		t.Errorf("warnings %q: the CLI drops a create's warnings", r.warn.String())
	}
	for name, opts := range engine.netOpts {
		if opts.Driver != "overlay" || opts.Labels[convert.LabelNamespace] != "app" {
			t.Errorf("network %s created with driver %q labels %v, want overlay and the stack's label", name, opts.Driver, opts.Labels)
		}
	}
	web := engine.created[1].Spec
	if len(web.TaskTemplate.ContainerSpec.Secrets) != 1 || web.TaskTemplate.ContainerSpec.Secrets[0].SecretID != "id-app_s" {
		t.Errorf("web's secrets %+v, want app_s by the ID it was created with", web.TaskTemplate.ContainerSpec.Secrets)
	}
	if len(web.TaskTemplate.ContainerSpec.Configs) != 1 || web.TaskTemplate.ContainerSpec.Configs[0].ConfigID != "id-app_c" {
		t.Errorf("web's configs %+v, want app_c by its ID", web.TaskTemplate.ContainerSpec.Configs)
	}
}

func TestDeployUpdates(t *testing.T) {
	engine := swarmWith(deployed("w1", "web", "nginx:1.25"))
	engine.updateWarnings = []string{"image nginx:1.25 could not be accessed"}
	r := deploy(t, engine, Deployer{}, stack(t))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.out.String(), "Creating service app_db\nUpdating service app_web (id: w1)\n") {
		t.Errorf("out %q, want db created and web updated", r.out.String())
	}
	if r.warn.String() != "image nginx:1.25 could not be accessed\n" {
		t.Errorf("warnings %q, want the update's", r.warn.String())
	}
	opts, ok := engine.updated["w1"]
	switch {
	case !ok:
		t.Fatalf("web not updated: %q", engine.calls)
	case opts.Version.Index != 7:
		t.Errorf("update at version %d, want the service's 7", opts.Version.Index)
	case opts.Spec.TaskTemplate.ForceUpdate != 3:
		t.Errorf("ForceUpdate %d, want the service's 3 kept", opts.Spec.TaskTemplate.ForceUpdate)
	case opts.Spec.Labels[convert.LabelImage] != "nginx:1.25":
		t.Errorf("labels %v, want the stack file's image", opts.Spec.Labels)
	}
}

func TestDeployResolveImage(t *testing.T) {
	const pinned = "nginx:1.25@sha256:0123"
	tests := []struct {
		policy    string
		existing  string // the image the service was deployed from; "": none
		wantQuery bool
		wantImage string
	}{
		{policy: "", wantQuery: true, wantImage: "nginx:1.25"},
		{policy: ResolveAlways, wantQuery: true, wantImage: "nginx:1.25"},
		{policy: ResolveChanged, wantQuery: true, wantImage: "nginx:1.25"},
		{policy: ResolveNever, wantQuery: false, wantImage: "nginx:1.25"},
		{policy: ResolveAlways, existing: "nginx:1.25", wantQuery: true, wantImage: "nginx:1.25"},
		{policy: ResolveChanged, existing: "nginx:1.25", wantQuery: false, wantImage: pinned},
		{policy: ResolveChanged, existing: "nginx:1.24", wantQuery: true, wantImage: "nginx:1.25"},
		{policy: ResolveNever, existing: "nginx:1.25", wantQuery: false, wantImage: pinned},
		{policy: ResolveNever, existing: "nginx:1.24", wantQuery: false, wantImage: "nginx:1.25"},
	}
	for _, tt := range tests {
		t.Run(tt.policy+"/"+tt.existing, func(t *testing.T) {
			engine := swarmWith()
			if tt.existing != "" {
				engine.services = append(engine.services, deployed("w1", "web", tt.existing))
			}
			cfg := loadStack(t, "services:\n  web: {image: nginx:1.25}\n", nil)
			if r := deploy(t, engine, Deployer{ResolveImage: tt.policy}, cfg); r.err != nil {
				t.Fatal(r.err)
			}
			var query bool
			var image string
			if tt.existing == "" {
				query, image = engine.created[0].QueryRegistry, engine.created[0].Spec.TaskTemplate.ContainerSpec.Image
			} else {
				query, image = engine.updated["w1"].QueryRegistry, engine.updated["w1"].Spec.TaskTemplate.ContainerSpec.Image
			}
			if query != tt.wantQuery || image != tt.wantImage {
				t.Errorf("query registry %v image %s, want %v %s", query, image, tt.wantQuery, tt.wantImage)
			}
		})
	}
}

func TestDeployPrune(t *testing.T) {
	other := deployed("o1", "old", "x")
	other.Spec.Name, other.Spec.Labels[convert.LabelNamespace] = "other_old", "other"
	tests := []struct {
		prune     bool
		removeErr error
		wantCalls []string
		wantWarn  string
	}{
		{prune: false},
		{prune: true, wantCalls: []string{"remove service a1", "remove service z1"}},
		{prune: true, removeErr: errors.New("busy"), wantCalls: []string{"remove service a1", "remove service z1"},
			wantWarn: "Failed to remove service a1: busy\nFailed to remove service z1: busy\n"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.wantWarn), func(t *testing.T) {
			engine := swarmWith(deployed("z1", "zold", "x"), deployed("w1", "web", "nginx:1.25"), deployed("a1", "aold", "x"), other)
			engine.removeErr = tt.removeErr
			r := deploy(t, engine, Deployer{Prune: tt.prune}, loadStack(t, "services:\n  web: {image: nginx:1.25}\n", nil))
			if r.err != nil {
				t.Fatal(r.err)
			}
			var removed []string
			for _, c := range engine.calls {
				if strings.HasPrefix(c, "remove ") {
					removed = append(removed, c)
				}
			}
			if !reflect.DeepEqual(removed, tt.wantCalls) {
				t.Errorf("removed %q, want %q", removed, tt.wantCalls)
			}
			if tt.prune && !strings.HasPrefix(r.out.String(), "Removing service app_aold\nRemoving service app_zold\n") {
				t.Errorf("out %q, want the removals first, by name", r.out.String())
			}
			if r.warn.String() != tt.wantWarn {
				t.Errorf("warnings %q, want %q", r.warn.String(), tt.wantWarn)
			}
			if _, ok := engine.updated["w1"]; !ok {
				t.Errorf("web not updated after the prune: %q", engine.calls)
			}
		})
	}
}

func TestDeployExternalNetwork(t *testing.T) {
	tests := []struct {
		name     string
		networks []network.Inspect
		file     string
		want     string // "": deploys
	}{
		{name: "missing", file: "services:\n  web: {image: x, networks: [ext]}\nnetworks:\n  ext: {external: true, name: shared}\n",
			want: `network "shared" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed`},
		{name: "local", networks: []network.Inspect{{Network: network.Network{Name: "shared", Scope: "local"}}},
			file: "services:\n  web: {image: x, networks: [ext]}\nnetworks:\n  ext: {external: true, name: shared}\n",
			want: `network "shared" is declared as external, but it is not in the right scope: "local" instead of "swarm"`},
		{name: "host is not looked up", file: "services:\n  web: {image: x, networks: [host]}\nnetworks:\n  host: {external: true, name: host}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := &fakeEngine{networks: tt.networks}
			r := deploy(t, engine, Deployer{}, loadStack(t, tt.file, nil))
			if tt.want == "" {
				if r.err != nil || len(engine.created) != 1 {
					t.Errorf("error %v, %d services created; want the deploy", r.err, len(engine.created))
				}
				if len(engine.calls) > 0 && strings.HasPrefix(engine.calls[0], "inspect") {
					t.Errorf("calls %q: host is on every node", engine.calls)
				}
				return
			}
			if r.err == nil || r.err.Error() != tt.want {
				t.Errorf("error %v\nwant %s", r.err, tt.want)
			}
			if len(engine.calls) != 1 {
				t.Errorf("calls %q, want the inspect alone", engine.calls)
			}
		})
	}
}

func TestDeploySecretAndConfigExist(t *testing.T) {
	secret := swarm.Secret{ID: "sid"}
	secret.Version.Index, secret.Spec.Name = 4, "app_s"
	config := swarm.Config{ID: "cid"}
	config.Version.Index, config.Spec.Name = 5, "app_c"
	engine := swarmWith()
	engine.secrets, engine.configs = []swarm.Secret{secret}, []swarm.Config{config}
	r := deploy(t, engine, Deployer{}, stack(t))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if strings.Contains(r.out.String(), "Creating secret") || strings.Contains(r.out.String(), "Creating config") {
		t.Errorf("out %q: the CLI says nothing of an update", r.out.String())
	}
	if len(engine.secUpd) != 1 || engine.secUpd[0].Version.Index != 4 || string(engine.secUpd[0].Spec.Data) != "secret" {
		t.Errorf("secret updates %+v, want one at version 4 with the file's data", engine.secUpd)
	}
	if len(engine.cfgUpd) != 1 || engine.cfgUpd[0].Version.Index != 5 || string(engine.cfgUpd[0].Spec.Data) != "config" {
		t.Errorf("config updates %+v, want one at version 5 with the file's data", engine.cfgUpd)
	}
}

func TestDeploySecretRefused(t *testing.T) {
	secret := swarm.Secret{ID: "sid"}
	secret.Spec.Name = "app_s"
	engine := swarmWith()
	engine.secrets = []swarm.Secret{secret}
	engine.updateErr = errors.New("rpc error: code = InvalidArgument desc = only updates to Labels are allowed")
	r := deploy(t, engine, Deployer{}, stack(t))
	if r.err == nil || !strings.HasPrefix(r.err.Error(), "failed to update secret app_s: ") || !errors.Is(r.err, engine.updateErr) {
		t.Errorf("error %v, want the CLI's failed to update secret app_s, wrapping the engine's", r.err)
	}
	if len(engine.created) != 0 {
		t.Errorf("%d services created after the refusal", len(engine.created))
	}
}

func TestDeployRegistryAuth(t *testing.T) {
	auth := func(image string) (string, error) { return "auth-for-" + image, nil }
	engine := swarmWith(deployed("w1", "web", "nginx:1.25"))
	if r := deploy(t, engine, Deployer{RegistryAuth: auth}, stack(t)); r.err != nil {
		t.Fatal(r.err)
	}
	if got := engine.created[0].EncodedRegistryAuth; got != "auth-for-postgres:16" {
		t.Errorf("create sent auth %q, want the db image's", got)
	}
	if got := engine.updated["w1"].EncodedRegistryAuth; got != "auth-for-nginx:1.25" {
		t.Errorf("update sent auth %q, want the web image's", got)
	}

	engine = swarmWith()
	if r := deploy(t, engine, Deployer{}, stack(t)); r.err != nil || engine.created[0].EncodedRegistryAuth != "" {
		t.Errorf("error %v, auth %q; want none sent without RegistryAuth", r.err, engine.created[0].EncodedRegistryAuth)
	}

	failing := errors.New("credential helper failed")
	engine = swarmWith()
	r := deploy(t, engine, Deployer{RegistryAuth: func(string) (string, error) { return "", failing }}, stack(t))
	if !errors.Is(r.err, failing) || len(engine.created) != 0 || strings.Contains(r.out.String(), "Creating service") {
		t.Errorf("error %v, %d created, out %q; want the deploy to stop before the service", r.err, len(engine.created), r.out.String())
	}
}

func TestDeployRefuses(t *testing.T) {
	tests := []struct {
		name   string
		d      Deployer
		worker bool
		want   string
	}{
		{name: "not a manager", worker: true, want: ErrNotSwarmManager.Error()},
		{name: "resolve-image", d: Deployer{ResolveImage: "sometimes"}, want: "invalid option sometimes for flag --resolve-image"},
		{name: "stack name", d: Deployer{Namespace: ` "' `}, want: `invalid stack name: " \"' "`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			engine := swarmWith()
			engine.worker = tt.worker
			r := deploy(t, engine, tt.d, stack(t))
			if r.err == nil || r.err.Error() != tt.want {
				t.Errorf("error %v\nwant %s", r.err, tt.want)
			}
			if len(engine.calls) != 0 || r.out.Len() != 0 {
				t.Errorf("calls %q out %q, want nothing done", engine.calls, r.out.String())
			}
		})
	}
	engine := swarmWith()
	engine.worker = true
	if err := deploy(t, engine, Deployer{}, stack(t)).err; !errors.Is(err, ErrNotSwarmManager) {
		t.Errorf("error %v, want ErrNotSwarmManager", err)
	}
}

func TestCreateNetworks(t *testing.T) {
	engine := &fakeEngine{networks: []network.Inspect{
		{Network: network.Network{Name: "app_front", Labels: map[string]string{convert.LabelNamespace: "app"}}},
		{Network: network.Network{Name: "app_default"}}, // not the stack's: the CLI looks only at its own
	}}
	cfg := loadStack(t, "services:\n  web: {image: x, networks: [front, back]}\n  db: {image: x}\nnetworks:\n  front: {}\n  back: {driver: bridge, labels: {tier: b}}\n", nil)
	var out bytes.Buffer
	if err := (Deployer{Engine: engine, Namespace: "app", Out: &out}).CreateNetworks(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	want := []string{"create network app_back", "create network app_default"}
	if !reflect.DeepEqual(engine.calls, want) {
		t.Errorf("calls %q, want %q", engine.calls, want)
	}
	if out.String() != "Creating network app_back\nCreating network app_default\n" {
		t.Errorf("out %q", out.String())
	}
	back := engine.netOpts["app_back"]
	if back.Driver != "bridge" || back.Labels["tier"] != "b" || back.Labels[convert.LabelNamespace] != "app" {
		t.Errorf("app_back %+v, want its driver and labels with the stack's", back)
	}
	if own, external := Networks("app", cfg); len(own) != 3 || len(external) != 0 {
		t.Errorf("Networks: own %v external %v, want front, back, default", own, external)
	}
}
