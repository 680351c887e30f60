package stackdeploy

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// defaultDriver is the driver docker stack deploy gives a network whose
// stack file names none.
const defaultDriver = "overlay"

// Networks are the networks of cfg's services as docker stack deploy
// converts them: the stack's own, by their names in the swarm, with the
// options they are created with, and the external ones, which it only
// checks. A service without networks: is on the stack's "default".
func Networks(namespace string, cfg *composetypes.Config) (own map[string]client.NetworkCreateOptions, external []string) {
	used := map[string]struct{}{}
	for _, svc := range cfg.Services {
		if len(svc.Networks) == 0 {
			used["default"] = struct{}{}
		}
		for name := range svc.Networks {
			used[name] = struct{}{}
		}
	}
	return convert.Networks(convert.NewNamespace(namespace), cfg.Networks, used)
}

// networks is the deploy's network step: the external networks must
// exist first, then the stack's own are created.
func (d Deployer) networks(ctx context.Context, cfg *composetypes.Config) error {
	_, external := Networks(d.Namespace, cfg)
	if err := d.checkExternal(ctx, external); err != nil {
		return err
	}
	return d.CreateNetworks(ctx, cfg)
}

// checkExternal fails on an external network the swarm does not have, or
// has only on this node, in the CLI's words.
func (d Deployer) checkExternal(ctx context.Context, names []string) error {
	for _, name := range names {
		if !container.NetworkMode(name).IsUserDefined() {
			continue // host, bridge, none: on every node, nothing to check
		}
		res, err := d.Engine.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		switch {
		case errdefs.IsNotFound(err):
			return fmt.Errorf("network %q is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed", name)
		case err != nil:
			return fmt.Errorf("inspect external network %s: %w", name, err)
		case res.Network.Scope != "swarm":
			return fmt.Errorf("network %q is declared as external, but it is not in the right scope: %q instead of \"swarm\"", name, res.Network.Scope)
		}
	}
	return nil
}

// CreateNetworks creates cfg's own networks that the stack does not have
// yet, named, labelled and with the driver docker stack deploy gives them.
// It is a step of Deploy, and also stands alone so that jobs can start on
// the stack's networks before its first deploy.
func (d Deployer) CreateNetworks(ctx context.Context, cfg *composetypes.Config) error {
	own, _ := Networks(d.Namespace, cfg)
	list, err := d.Engine.NetworkList(ctx, client.NetworkListOptions{Filters: d.stackFilter()})
	if err != nil {
		return fmt.Errorf("list the stack's networks: %w", err)
	}
	have := map[string]bool{}
	for _, n := range list.Items {
		have[n.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(own)) {
		if have[name] {
			continue
		}
		opts := own[name]
		if opts.Driver == "" {
			opts.Driver = defaultDriver
		}
		fmt.Fprintln(d.out(), "Creating network", name)
		if _, err := d.Engine.NetworkCreate(ctx, name, opts); err != nil {
			return fmt.Errorf("failed to create network %s: %w", name, err)
		}
	}
	return nil
}
