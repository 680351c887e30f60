package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/deploy/stackdeploy"
	"jobrun/jobs"
)

// Object is a network, secret or config a deploy would create.
type Object struct {
	Kind string `json:"kind"` // network, secret or config
	Name string `json:"name"`
}

// Preview is what deploying the named services would do, from the same
// conversion Deploy makes, against what the engine runs.
type Preview struct {
	Create   []Object
	Services []ServiceDiff
	Problems []string // why the deploy would fail, and the fix
}

// DryRun computes what Deploy(names, prune) would do, and reads only: the
// engine it converts with refuses every write, and knows the secrets and
// configs the deploy would create first, as if they were there.
func (s Stack) DryRun(ctx context.Context, names []string, prune bool) (Preview, error) {
	cfg := s.only(names)
	ns := convert.NewNamespace(s.Name)
	var p Preview
	ro := &readOnly{APIClient: s.Engine}
	if err := s.plannedObjects(ctx, ro, &p); err != nil {
		return Preview{}, err
	}
	specs, err := convert.Services(ctx, ns, &cfg, ro)
	if err != nil {
		return Preview{}, &jobs.UsageError{Msg: "convert the stack file as docker stack deploy would: " + jobs.OneLine(err) + ": fix the stack file, or create what it names as external"}
	}
	running, err := s.Services(ctx)
	if err != nil {
		return Preview{}, err
	}
	list, err := s.Engine.NetworkList(ctx, client.NetworkListOptions{})
	nets := list.Items
	if err != nil {
		return Preview{}, &jobs.EngineError{Msg: "list networks", Err: err}
	}
	byID := map[string]string{}
	for _, n := range nets {
		byID[n.ID] = n.Name
	}
	for _, name := range names {
		want, ok := specs[name]
		if !ok {
			continue
		}
		svc, ok := running[name]
		if !ok {
			p.Services = append(p.Services, ServiceDiff{Service: name, Action: Create})
			continue
		}
		d := ServiceDiff{Service: name, Action: Keep, Changes: Diff(svc.Spec, want, byID)}
		if c, ok := s.repinned(ctx, svc.Spec, d.Changes); ok {
			d.Changes = append([]Change{c}, d.Changes...)
		}
		if len(d.Changes) > 0 {
			d.Action = Update
		}
		p.Services = append(p.Services, d)
	}
	if prune {
		for _, name := range slices.Sorted(maps.Keys(running)) {
			if !slices.Contains(names, name) {
				p.Services = append(p.Services, ServiceDiff{Service: name, Action: Remove})
			}
		}
	}
	return p, nil
}

// repinned is the image change of a service whose tag is unchanged but was
// pushed again since the engine pinned it: with --resolve-image always the
// deploy asks the registry again, and so does the dry run (a read). When the
// registry cannot be asked, the tag is taken as unmoved.
func (s Stack) repinned(ctx context.Context, running swarm.ServiceSpec, changes []Change) (Change, bool) {
	if s.ResolveImage != "always" || slices.ContainsFunc(changes, func(c Change) bool { return c.Field == "image" }) {
		return Change{}, false
	}
	image := running.TaskTemplate.ContainerSpec.Image
	ref, err := reference.ParseNormalizedNamed(image)
	pinned, ok := ref.(reference.Canonical)
	if err != nil || !ok {
		return Change{}, false
	}
	tag := stackImage(running)
	dist, err := s.Engine.DistributionInspect(ctx, tag, client.DistributionInspectOptions{EncodedRegistryAuth: s.registryAuth(tag)})
	if err != nil || dist.Descriptor.Digest == "" || dist.Descriptor.Digest == pinned.Digest() {
		return Change{}, false
	}
	return Change{Field: "image", Change: "changed", Old: image, New: tag + "@" + dist.Descriptor.Digest.String()}, true
}

// plannedObjects lists the stack's networks, secrets and configs that the
// deploy would create, and has ro answer for the secrets and configs as if
// they existed: the converter looks their IDs up.
func (s Stack) plannedObjects(ctx context.Context, ro *readOnly, p *Preview) error {
	ns := convert.NewNamespace(s.Name)
	networks, external := stackdeploy.Networks(s.Name, s.Config)
	if err := s.checkExternal(ctx, external, p); err != nil {
		return err
	}
	list, err := s.Engine.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", convert.LabelNamespace+"="+s.Name)})
	have := list.Items
	if err != nil {
		return &jobs.EngineError{Msg: "list the stack's networks", Err: err}
	}
	for _, name := range slices.Sorted(maps.Keys(networks)) {
		if !slices.ContainsFunc(have, func(n network.Summary) bool { return n.Name == name }) {
			p.Create = append(p.Create, Object{Kind: "network", Name: name})
		}
	}
	secrets, err := convert.Secrets(ns, s.Config.Secrets)
	if err != nil {
		return &jobs.UsageError{Msg: "stack file secrets: " + jobs.OneLine(err) + ": fix the stack file"}
	}
	configs, err := convert.Configs(ns, s.Config.Configs)
	if err != nil {
		return &jobs.UsageError{Msg: "stack file configs: " + jobs.OneLine(err) + ": fix the stack file"}
	}
	for _, spec := range secrets {
		_, err := s.Engine.SecretInspect(ctx, spec.Name, client.SecretInspectOptions{})
		if created, err := p.creates(err, "secret", spec.Name); err != nil {
			return err
		} else if created {
			ro.secrets = append(ro.secrets, swarm.Secret{ID: "(new)", Spec: spec})
		}
	}
	// A secret's data cannot be read back, a config's can: a changed one
	// fails the deploy (changedData).
	for _, spec := range configs {
		inspected, err := s.Engine.ConfigInspect(ctx, spec.Name, client.ConfigInspectOptions{})
		have := inspected.Config
		if created, err := p.creates(err, "config", spec.Name); err != nil {
			return err
		} else if created {
			ro.configs = append(ro.configs, swarm.Config{ID: "(new)", Spec: spec})
		} else if !bytes.Equal(have.Spec.Data, spec.Data) {
			p.Problems = append(p.Problems, changedDataMsg("config", spec.Name))
		}
	}
	return nil
}

// checkExternal notes the external networks the swarm lacks or has only on
// one node, which docker stack deploy refuses before it changes anything.
func (s Stack) checkExternal(ctx context.Context, names []string, p *Preview) error {
	for _, name := range names {
		if !container.NetworkMode(name).IsUserDefined() {
			continue // bridge, host: on every node
		}
		inspected, err := s.Engine.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			p.Problems = append(p.Problems, fmt.Sprintf("network %s is external and does not exist: create it with docker network create -d overlay --attachable %s", name, name))
		case err != nil:
			return &jobs.EngineError{Msg: "inspect network " + name, Err: err}
		case inspected.Network.Scope != "swarm":
			p.Problems = append(p.Problems, fmt.Sprintf("network %s is external and %s-scoped: use an overlay network (docker network create -d overlay)", name, inspected.Network.Scope))
		}
	}
	return nil
}

// creates reads an inspect's error: not found means the deploy creates
// the object.
func (p *Preview) creates(err error, kind, name string) (bool, error) {
	switch {
	case err == nil:
		return false, nil
	case cerrdefs.IsNotFound(err):
		p.Create = append(p.Create, Object{Kind: kind, Name: name})
		return true, nil
	}
	return false, &jobs.EngineError{Msg: "inspect " + kind + " " + name, Err: err}
}

// errReadOnly is what a dry run's engine says to a write: none may happen.
var errReadOnly = errors.New("jobrun deploy --dry-run writes nothing to the engine")

// readOnly is the engine a dry run converts with: it lists the secrets and
// configs the deploy would create beside those that exist, and refuses
// every write the stack deploy code could make.
type readOnly struct {
	client.APIClient
	secrets []swarm.Secret
	configs []swarm.Config
}

func (r *readOnly) SecretList(ctx context.Context, o client.SecretListOptions) (client.SecretListResult, error) {
	list, err := r.APIClient.SecretList(ctx, o)
	list.Items = append(list.Items, r.secrets...)
	return list, err
}

func (r *readOnly) ConfigList(ctx context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	list, err := r.APIClient.ConfigList(ctx, o)
	list.Items = append(list.Items, r.configs...)
	return list, err
}

func (r *readOnly) ServiceCreate(context.Context, client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	return client.ServiceCreateResult{}, errReadOnly
}

func (r *readOnly) ServiceUpdate(context.Context, string, client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	return client.ServiceUpdateResult{}, errReadOnly
}

func (r *readOnly) ServiceRemove(context.Context, string, client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	return client.ServiceRemoveResult{}, errReadOnly
}

func (r *readOnly) NetworkCreate(context.Context, string, client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	return client.NetworkCreateResult{}, errReadOnly
}

func (r *readOnly) SecretCreate(context.Context, client.SecretCreateOptions) (client.SecretCreateResult, error) {
	return client.SecretCreateResult{}, errReadOnly
}

func (r *readOnly) ConfigCreate(context.Context, client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	return client.ConfigCreateResult{}, errReadOnly
}

// Holder says who holds the stack's deploy lock, if anyone; it takes
// nothing.
func (l *Lock) Holder(ctx context.Context) (string, bool, error) {
	list, err := l.Engine.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", jobs.LabelKind+"="+kindLock).Add("label", jobs.LabelStack+"="+l.Stack)})
	cfgs := list.Items
	if err != nil {
		return "", false, &jobs.EngineError{Msg: "read the deploy lock of stack " + l.Stack, Err: err}
	}
	if len(cfgs) == 0 {
		return "", false, nil
	}
	return l.holder(ctx), true, nil
}
