package stackdeploy

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// services converts cfg's services (after the secrets and configs: their
// references carry the IDs the swarm gave them) and creates or updates
// each.
func (d Deployer) services(ctx context.Context, cfg *composetypes.Config) error {
	specs, err := convert.Services(ctx, d.namespace(), cfg, d.Engine)
	if err != nil {
		return fmt.Errorf("convert the stack's services: %w", err)
	}
	list, err := d.Engine.ServiceList(ctx, client.ServiceListOptions{Filters: d.stackFilter()})
	if err != nil {
		return fmt.Errorf("list the stack's services: %w", err)
	}
	existing := make(map[string]swarm.Service, len(list.Items))
	for _, svc := range list.Items {
		existing[svc.Spec.Name] = svc
	}
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		if err := d.service(ctx, specs[name], existing); err != nil {
			return err
		}
	}
	return nil
}

// service creates or updates one service, with the image's registry
// credentials when RegistryAuth is set.
func (d Deployer) service(ctx context.Context, spec swarm.ServiceSpec, existing map[string]swarm.Service) error {
	auth, err := d.auth(spec.TaskTemplate.ContainerSpec.Image)
	if err != nil {
		return err
	}
	if svc, ok := existing[spec.Name]; ok {
		return d.update(ctx, svc, spec, auth)
	}
	fmt.Fprintln(d.out(), "Creating service", spec.Name)
	// The CLI drops a create's warnings (an image it could not pin among
	// them); only an update's are printed.
	_, err = d.Engine.ServiceCreate(ctx, client.ServiceCreateOptions{
		Spec:                spec,
		EncodedRegistryAuth: auth,
		QueryRegistry:       d.ResolveImage != ResolveNever,
	})
	if err != nil {
		return fmt.Errorf("failed to create service %s: %w", spec.Name, err)
	}
	return nil
}

// auth is the X-Registry-Auth sent with image.
func (d Deployer) auth(image string) (string, error) {
	if d.RegistryAuth == nil {
		return "", nil
	}
	auth, err := d.RegistryAuth(image)
	if err != nil {
		return "", fmt.Errorf("registry credentials for %s: %w", image, err)
	}
	return auth, nil
}

// update replaces svc's spec with spec, keeping from svc what a stack file
// cannot say: the digest an unchanged image was pinned to (unless the
// registry is asked again), and ForceUpdate (stack deploy has no --force:
// a new value would restart the tasks for nothing).
func (d Deployer) update(ctx context.Context, svc swarm.Service, spec swarm.ServiceSpec, auth string) error {
	fmt.Fprintf(d.out(), "Updating service %s (id: %s)\n", spec.Name, svc.ID)
	query := d.queryOnUpdate(spec, svc)
	if !query && spec.TaskTemplate.ContainerSpec.Image == svc.Spec.Labels[convert.LabelImage] {
		spec.TaskTemplate.ContainerSpec.Image = svc.Spec.TaskTemplate.ContainerSpec.Image
	}
	spec.TaskTemplate.ForceUpdate = svc.Spec.TaskTemplate.ForceUpdate
	res, err := d.Engine.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{
		Version:             svc.Version,
		Spec:                spec,
		EncodedRegistryAuth: auth,
		QueryRegistry:       query,
	})
	if err != nil {
		return fmt.Errorf("failed to update service %s: %w", spec.Name, err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(d.warn(), w)
	}
	return nil
}

// queryOnUpdate is --resolve-image on an update: always asks the registry;
// changed asks only when the stack file's image is not the one the service
// was deployed from (its com.docker.stack.image label); never does not.
func (d Deployer) queryOnUpdate(spec swarm.ServiceSpec, svc swarm.Service) bool {
	switch d.ResolveImage {
	case ResolveNever:
		return false
	case ResolveChanged:
		return spec.TaskTemplate.ContainerSpec.Image != svc.Spec.Labels[convert.LabelImage]
	}
	return true
}
