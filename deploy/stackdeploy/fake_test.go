package stackdeploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// fakeEngine is a swarm manager that keeps what it is given; a call it
// does not override panics on the nil client.APIClient, so a test sees
// any call the deploy should not make.
type fakeEngine struct {
	client.APIClient
	worker   bool
	services []swarm.Service
	networks []network.Inspect // the engine's networks, of any stack or none
	secrets  []swarm.Secret
	configs  []swarm.Config

	listErr, removeErr, updateErr error
	updateWarnings                []string

	calls   []string // "create service x", "update secret y", ... in order
	created []client.ServiceCreateOptions
	updated map[string]client.ServiceUpdateOptions // by service ID
	netOpts map[string]client.NetworkCreateOptions
	secUpd  []client.SecretUpdateOptions
	cfgUpd  []client.ConfigUpdateOptions
}

func (f *fakeEngine) record(format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
}

// labelled reports whether labels satisfy every label filter in filters.
func labelled(filters client.Filters, labels map[string]string) bool {
	for want := range filters["label"] {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

func (f *fakeEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{Swarm: swarm.Info{ControlAvailable: !f.worker}}}, nil
}

func (f *fakeEngine) ServiceList(_ context.Context, o client.ServiceListOptions) (client.ServiceListResult, error) {
	if f.listErr != nil {
		return client.ServiceListResult{}, f.listErr
	}
	var out client.ServiceListResult
	for _, s := range f.services {
		if labelled(o.Filters, s.Spec.Labels) {
			out.Items = append(out.Items, s)
		}
	}
	return out, nil
}

func (f *fakeEngine) ServiceRemove(_ context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	f.record("remove service %s", id)
	return client.ServiceRemoveResult{}, f.removeErr
}

func (f *fakeEngine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	f.record("create service %s", o.Spec.Name)
	f.created = append(f.created, o)
	return client.ServiceCreateResult{ID: "new-" + o.Spec.Name, Warnings: []string{"create warning"}}, nil
}

func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	f.record("update service %s", id)
	if f.updated == nil {
		f.updated = map[string]client.ServiceUpdateOptions{}
	}
	f.updated[id] = o
	return client.ServiceUpdateResult{Warnings: f.updateWarnings}, f.updateErr
}

func (f *fakeEngine) NetworkList(_ context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	var out client.NetworkListResult
	for _, n := range f.networks {
		if labelled(o.Filters, n.Labels) {
			out.Items = append(out.Items, network.Summary{Network: n.Network})
		}
	}
	return out, nil
}

func (f *fakeEngine) NetworkInspect(_ context.Context, name string, _ client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	f.record("inspect network %s", name)
	for _, n := range f.networks {
		if n.Name == name {
			return client.NetworkInspectResult{Network: n}, nil
		}
	}
	return client.NetworkInspectResult{}, fmt.Errorf("network %s not found: %w", name, errdefs.ErrNotFound)
}

func (f *fakeEngine) NetworkCreate(_ context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	f.record("create network %s", name)
	if f.netOpts == nil {
		f.netOpts = map[string]client.NetworkCreateOptions{}
	}
	f.netOpts[name] = o
	f.networks = append(f.networks, network.Inspect{Network: network.Network{Name: name, Labels: o.Labels, Scope: "swarm"}})
	return client.NetworkCreateResult{ID: name}, nil
}

var errNoSuchObject = fmt.Errorf("no such object: %w", errdefs.ErrNotFound)

func (f *fakeEngine) SecretInspect(_ context.Context, name string, _ client.SecretInspectOptions) (client.SecretInspectResult, error) {
	for _, s := range f.secrets {
		if s.Spec.Name == name {
			return client.SecretInspectResult{Secret: s}, nil
		}
	}
	return client.SecretInspectResult{}, errNoSuchObject
}

func (f *fakeEngine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	f.record("create secret %s", o.Spec.Name)
	f.secrets = append(f.secrets, swarm.Secret{ID: "id-" + o.Spec.Name, Spec: o.Spec})
	return client.SecretCreateResult{ID: "id-" + o.Spec.Name}, nil
}

func (f *fakeEngine) SecretUpdate(_ context.Context, id string, o client.SecretUpdateOptions) (client.SecretUpdateResult, error) {
	f.record("update secret %s", id)
	f.secUpd = append(f.secUpd, o)
	if f.updateErr != nil {
		return client.SecretUpdateResult{}, f.updateErr
	}
	return client.SecretUpdateResult{}, nil
}

func (f *fakeEngine) SecretList(_ context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	var out client.SecretListResult
	for _, s := range f.secrets {
		if o.Filters["name"][s.Spec.Name] {
			out.Items = append(out.Items, s)
		}
	}
	return out, nil
}

func (f *fakeEngine) ConfigInspect(_ context.Context, name string, _ client.ConfigInspectOptions) (client.ConfigInspectResult, error) {
	for _, c := range f.configs {
		if c.Spec.Name == name {
			return client.ConfigInspectResult{Config: c}, nil
		}
	}
	return client.ConfigInspectResult{}, errNoSuchObject
}

func (f *fakeEngine) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	f.record("create config %s", o.Spec.Name)
	f.configs = append(f.configs, swarm.Config{ID: "id-" + o.Spec.Name, Spec: o.Spec})
	return client.ConfigCreateResult{ID: "id-" + o.Spec.Name}, nil
}

func (f *fakeEngine) ConfigUpdate(_ context.Context, id string, o client.ConfigUpdateOptions) (client.ConfigUpdateResult, error) {
	f.record("update config %s", id)
	f.cfgUpd = append(f.cfgUpd, o)
	return client.ConfigUpdateResult{}, nil
}

func (f *fakeEngine) ConfigList(_ context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	var out client.ConfigListResult
	for _, c := range f.configs {
		if o.Filters["name"][c.Spec.Name] {
			out.Items = append(out.Items, c)
		}
	}
	return out, nil
}
