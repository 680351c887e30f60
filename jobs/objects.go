package jobs

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/client"
)

// createJobObjects creates the secrets and configs the job uses that the
// stack file defines (from a file, the environment or a driver) and the
// engine lacks, named and labelled exactly as docker stack deploy makes
// them, so that the next stack deploy adopts them. Existing ones are left
// as they are (a secret in use cannot be updated); external ones are not
// the stack's to create. told hears what was created. Two jobruns starting
// together both find one missing: the engine's conflict for the second
// create means the first made it, as docker stack deploy's would.
func createJobObjects(ctx context.Context, engine client.APIClient, stack *Stack, svc composetypes.ServiceConfig, told func(string)) error {
	ns := convert.NewNamespace(stack.Name)
	secrets := map[string]composetypes.SecretConfig{}
	for _, ref := range svc.Secrets {
		if cfg, ok := stack.Config.Secrets[ref.Source]; ok {
			secrets[ref.Source] = cfg
		}
	}
	configs := map[string]composetypes.ConfigObjConfig{}
	for _, ref := range svc.Configs {
		if cfg, ok := stack.Config.Configs[ref.Source]; ok {
			configs[ref.Source] = cfg
		}
	}
	secretSpecs, err := convert.Secrets(ns, secrets)
	if err != nil {
		return &UsageError{Msg: fmt.Sprintf("job %s: %s: fix the secret's file: in the stack file", svc.Name, OneLine(err))}
	}
	for _, spec := range secretSpecs {
		_, err := engine.SecretInspect(ctx, spec.Name, client.SecretInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			if _, err = engine.SecretCreate(ctx, client.SecretCreateOptions{Spec: spec}); err == nil {
				told("created secret " + spec.Name)
			} else if cerrdefs.IsConflict(err) {
				err = nil
			}
		}
		if err != nil {
			return &EngineError{Msg: "create secret " + spec.Name, Err: err}
		}
	}
	configSpecs, err := convert.Configs(ns, configs)
	if err != nil {
		return &UsageError{Msg: fmt.Sprintf("job %s: %s: fix the config's file: in the stack file", svc.Name, OneLine(err))}
	}
	for _, spec := range configSpecs {
		_, err := engine.ConfigInspect(ctx, spec.Name, client.ConfigInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			if _, err = engine.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: spec}); err == nil {
				told("created config " + spec.Name)
			} else if cerrdefs.IsConflict(err) {
				err = nil
			}
		}
		if err != nil {
			return &EngineError{Msg: "create config " + spec.Name, Err: err}
		}
	}
	return nil
}
