package deploy

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// Restore puts the stack's services back to specs: each one that runs is
// updated to its spec, one removed since is created again, one already as
// it was is left alone. The images are the specs' own (pinned digests
// stay pinned: the registry is not asked again). It returns the services
// as the waiter's targets, in name order, and the names of the stack's
// services that specs do not have, which it leaves as they are.
func (s Stack) Restore(ctx context.Context, specs Specs) ([]Target, []string, error) {
	now, err := s.Services(ctx)
	if err != nil {
		return nil, nil, err
	}
	var targets []Target
	for _, name := range specs.Names() {
		t, err := s.restoreOne(ctx, name, specs[name], now)
		if err != nil {
			return targets, nil, err
		}
		targets = append(targets, t)
	}
	var extra []string
	for name, svc := range now {
		if _, ok := specs[name]; !ok && svc.Spec.Mode.ReplicatedJob == nil && svc.Spec.Mode.GlobalJob == nil {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	return targets, extra, nil
}

func (s Stack) restoreOne(ctx context.Context, name string, spec swarm.ServiceSpec, now map[string]swarm.Service) (Target, error) {
	auth := s.registryAuth(spec.TaskTemplate.ContainerSpec.Image)
	cur, ok := now[name]
	switch {
	case !ok:
		fmt.Fprintf(s.Out, "Creating service %s\n", spec.Name)
		resp, err := s.Engine.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec, EncodedRegistryAuth: auth})
		if err != nil {
			return Target{}, &jobs.EngineError{Msg: "create service " + spec.Name, Err: err}
		}
		return Target{Name: name, ID: resp.ID, Changed: true}, nil
	case reflect.DeepEqual(cur.Spec, spec):
		return Target{Name: name, ID: cur.ID}, nil
	}
	fmt.Fprintf(s.Out, "Updating service %s (id: %s)\n", spec.Name, cur.ID)
	resp, err := s.Engine.ServiceUpdate(ctx, cur.ID, client.ServiceUpdateOptions{Version: cur.Version, Spec: spec, EncodedRegistryAuth: auth})
	if err != nil {
		return Target{}, &jobs.EngineError{Msg: "update service " + spec.Name, Err: err}
	}
	for _, w := range resp.Warnings {
		fmt.Fprintln(s.Warn, w)
	}
	return Target{Name: name, ID: cur.ID, Changed: true}, nil
}
