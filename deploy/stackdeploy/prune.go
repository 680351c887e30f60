package stackdeploy

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// prune removes the stack's services that cfg does not have. As with the
// CLI's --prune, nothing here fails the deploy: a failed list or removal is
// a warning and the deploy goes on.
func (d Deployer) prune(ctx context.Context, cfg *composetypes.Config) {
	keep := map[string]bool{}
	for _, svc := range cfg.Services {
		keep[svc.Name] = true
	}
	list, err := d.Engine.ServiceList(ctx, client.ServiceListOptions{Filters: d.stackFilter()})
	if err != nil {
		fmt.Fprintln(d.warn(), "Failed to list services:", err)
	}
	var gone []swarm.Service
	for _, svc := range list.Items {
		if !keep[d.namespace().Descope(svc.Spec.Name)] {
			gone = append(gone, svc)
		}
	}
	slices.SortFunc(gone, func(a, b swarm.Service) int { return cmp.Compare(a.Spec.Name, b.Spec.Name) })
	for _, svc := range gone {
		fmt.Fprintln(d.out(), "Removing service", svc.Spec.Name)
		if _, err := d.Engine.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{}); err != nil {
			fmt.Fprintf(d.warn(), "Failed to remove service %s: %s\n", svc.ID, err)
		}
	}
}
