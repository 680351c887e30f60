package stackdeploy

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// secrets creates the stack's secrets, or updates those that exist: the
// engine accepts a new spec only when the data is the same (labels may
// change), so a changed secret fails the deploy with the engine's reason.
func (d Deployer) secrets(ctx context.Context, cfg *composetypes.Config) error {
	specs, err := convert.Secrets(d.namespace(), cfg.Secrets)
	if err != nil {
		return fmt.Errorf("read the stack's secrets: %w", err)
	}
	for _, spec := range specs {
		if err := d.secret(ctx, spec); err != nil {
			return err
		}
	}
	return nil
}

func (d Deployer) secret(ctx context.Context, spec swarm.SecretSpec) error {
	res, err := d.Engine.SecretInspect(ctx, spec.Name, client.SecretInspectOptions{})
	switch {
	case err == nil:
		// The CLI prints nothing for an update.
		if _, err := d.Engine.SecretUpdate(ctx, res.Secret.ID, client.SecretUpdateOptions{Version: res.Secret.Version, Spec: spec}); err != nil {
			return fmt.Errorf("failed to update secret %s: %w", spec.Name, err)
		}
	case errdefs.IsNotFound(err):
		fmt.Fprintln(d.out(), "Creating secret", spec.Name)
		if _, err := d.Engine.SecretCreate(ctx, client.SecretCreateOptions{Spec: spec}); err != nil {
			return fmt.Errorf("failed to create secret %s: %w", spec.Name, err)
		}
	default:
		return fmt.Errorf("inspect secret %s: %w", spec.Name, err)
	}
	return nil
}

// configs are the secrets' twin: create, or update when they exist.
func (d Deployer) configs(ctx context.Context, cfg *composetypes.Config) error {
	specs, err := convert.Configs(d.namespace(), cfg.Configs)
	if err != nil {
		return fmt.Errorf("read the stack's configs: %w", err)
	}
	for _, spec := range specs {
		if err := d.config(ctx, spec); err != nil {
			return err
		}
	}
	return nil
}

func (d Deployer) config(ctx context.Context, spec swarm.ConfigSpec) error {
	res, err := d.Engine.ConfigInspect(ctx, spec.Name, client.ConfigInspectOptions{})
	switch {
	case err == nil:
		if _, err := d.Engine.ConfigUpdate(ctx, res.Config.ID, client.ConfigUpdateOptions{Version: res.Config.Version, Spec: spec}); err != nil {
			return fmt.Errorf("failed to update config %s: %w", spec.Name, err)
		}
	case errdefs.IsNotFound(err):
		fmt.Fprintln(d.out(), "Creating config", spec.Name)
		if _, err := d.Engine.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: spec}); err != nil {
			return fmt.Errorf("failed to create config %s: %w", spec.Name, err)
		}
	default:
		return fmt.Errorf("inspect config %s: %w", spec.Name, err)
	}
	return nil
}
