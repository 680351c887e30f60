package deploy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/deploy/stackdeploy"
	"jobrun/jobs"
)

// Stack deploys a stack file's services as `docker stack deploy
// --with-registry-auth --detach` does (deploy/stackdeploy): networks,
// secrets, configs, services, labels, --prune and --resolve-image.
type Stack struct {
	Engine       client.APIClient
	Name         string
	Config       *composetypes.Config
	Out          io.Writer // docker stack deploy's own progress lines
	Warn         io.Writer // its warnings (its error stream)
	ResolveImage string    // always, changed or never
	// RegistryAuth is X-Registry-Auth for an image (nil: none); a dry run
	// asks the registry with it, as the deploy has the engine do.
	RegistryAuth func(image string) (string, error)
	// After paces the wait for a network's removal; nil: the real clock.
	After func(time.Duration) <-chan time.Time
}

// registryAuth is RegistryAuth's answer for image; a credential helper that
// failed is a warning, as the engine then pulls anonymously.
func (s Stack) registryAuth(image string) string {
	if s.RegistryAuth == nil {
		return ""
	}
	auth, err := s.RegistryAuth(image)
	if err != nil && s.Warn != nil {
		fmt.Fprintf(s.Warn, "%s; the nodes pull %s anonymously\n", err, image)
	}
	return auth
}

// deployer is docker stack deploy of the stack, with prune or not.
func (s Stack) deployer(prune bool) stackdeploy.Deployer {
	return stackdeploy.Deployer{Engine: s.Engine, Namespace: s.Name, ResolveImage: s.ResolveImage,
		RegistryAuth: s.RegistryAuth, Prune: prune, Out: s.Out, Warn: s.Warn}
}

// CreateNetworks creates the stack's networks that do not exist yet, as
// docker stack deploy names and labels them, so that jobs can start before
// the stack's first deploy.
func (s Stack) CreateNetworks(ctx context.Context) error {
	if err := s.deployer(false).CreateNetworks(ctx, s.Config); err != nil {
		return &jobs.EngineError{Msg: "create the stack's networks", Err: err}
	}
	return nil
}

// Deploy deploys the named services of the stack file and nothing else;
// with prune it removes the stack's services the file no longer has (a
// <stack>_<job> service left by the old way of deploying jobs among them).
// With no names it deploys the stack's secrets and configs alone.
func (s Stack) Deploy(ctx context.Context, names []string, prune bool) error {
	err := s.deploy(ctx, names, prune)
	if name, ok := jobs.RemovedNetwork(err); ok && s.own(name) {
		if err := s.RemakeNetwork(ctx, name); err != nil {
			return err
		}
		err = s.deploy(ctx, names, prune)
	}
	return err
}

// own reports whether the stack creates the network name (not an
// external one, which is not its to make).
func (s Stack) own(name string) bool {
	networks, _ := stackdeploy.Networks(s.Name, s.Config)
	_, ok := networks[name]
	return ok
}

// deploy is one docker stack deploy of the named services.
func (s Stack) deploy(ctx context.Context, names []string, prune bool) error {
	cfg := s.only(names)
	if err := s.deployer(prune).Deploy(ctx, &cfg); err != nil {
		if usage := changedData(err); usage != nil {
			return usage
		}
		return &jobs.EngineError{Msg: "deploy stack " + s.Name, Err: err}
	}
	return nil
}

// only is the stack file with the named services and no other.
func (s Stack) only(names []string) composetypes.Config {
	cfg := *s.Config
	cfg.Services = nil
	for _, svc := range s.Config.Services {
		if slices.Contains(names, svc.Name) {
			cfg.Services = append(cfg.Services, svc)
		}
	}
	return cfg
}

// Services are the stack's services the engine has, by their name in the
// stack file.
func (s Stack) Services(ctx context.Context) (map[string]swarm.Service, error) {
	list, err := s.Engine.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", convert.LabelNamespace+"="+s.Name)})
	if err != nil {
		return nil, &jobs.EngineError{Msg: "list the stack's services", Err: err}
	}
	ns := convert.NewNamespace(s.Name)
	out := make(map[string]swarm.Service, len(list.Items))
	for _, svc := range list.Items {
		out[ns.Descope(svc.Spec.Name)] = svc
	}
	return out, nil
}
