package deploy

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/docker/cli/cli/command"
	stackloader "github.com/docker/cli/cli/command/stack/loader"
	"github.com/docker/cli/cli/command/stack/options"
	stackswarm "github.com/docker/cli/cli/command/stack/swarm"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/spf13/pflag"

	"jobrun/jobs"
)

// Stack deploys a stack file's services with docker/cli's own stack deploy
// code, so that networks, secrets, configs, services, labels, --prune and
// --resolve-image are exactly what `docker stack deploy
// --with-registry-auth` makes of them.
type Stack struct {
	Engine client.APIClient
	// CLI is the command's docker CLI, its config and contexts read once;
	// docker stack deploy's own code runs on it, with Engine as its client.
	CLI          *command.DockerCli
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

// CreateNetworks creates the stack's networks that do not exist yet, as
// docker stack deploy names and labels them, so that jobs can start before
// the stack's first deploy.
func (s Stack) CreateNetworks(ctx context.Context) error {
	networks, _ := s.networks()
	list, err := s.Engine.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", convert.LabelNamespace+"="+s.Name)})
	existing := list.Items
	if err != nil {
		return &jobs.EngineError{Msg: "list the stack's networks", Err: err}
	}
	have := map[string]bool{}
	for _, n := range existing {
		have[n.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(networks)) { // the same lines on every run
		opts := networks[name]
		if have[name] {
			continue
		}
		if opts.Driver == "" {
			opts.Driver = "overlay" // docker stack deploy's default
		}
		fmt.Fprintf(s.Out, "Creating network %s\n", name)
		if _, err := s.Engine.NetworkCreate(ctx, name, opts); err != nil {
			return &jobs.EngineError{Msg: "create network " + name, Err: err}
		}
	}
	return nil
}

// networks are the stack's networks as docker stack deploy converts them,
// by their names in the swarm, and the external ones it only checks.
func (s Stack) networks() (map[string]client.NetworkCreateOptions, []string) {
	declared := map[string]struct{}{}
	for _, svc := range s.Config.Services {
		if len(svc.Networks) == 0 {
			declared["default"] = struct{}{}
		}
		for name := range svc.Networks {
			declared[name] = struct{}{}
		}
	}
	return convert.Networks(convert.NewNamespace(s.Name), s.Config.Networks, declared)
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
	networks, _ := s.networks()
	_, ok := networks[name]
	return ok
}

// deploy is one docker stack deploy of the named services.
func (s Stack) deploy(ctx context.Context, names []string, prune bool) error {
	cfg := s.only(names)
	cli := s.CLI
	//lint:ignore SA1019 docker stack deploy's code takes its engine and streams from the CLI (issue 29)
	if err := cli.Apply(command.WithAPIClient(s.Engine), command.WithOutputStream(s.Out), command.WithErrorStream(s.Warn)); err != nil {
		return &jobs.EngineError{Msg: "set up docker stack deploy", Err: err}
	}
	// Without a changed --detach flag, docker stack deploy prints advice
	// about it; jobrun waits for convergence itself.
	flags := pflag.NewFlagSet("deploy", pflag.ContinueOnError)
	flags.Bool("detach", true, "")
	_ = flags.Set("detach", "true")
	//lint:ignore SA1019 the options of RunDeploy, below
	opts := &options.Deploy{Namespace: s.Name, ResolveImage: s.ResolveImage, SendRegistryAuth: true, Prune: prune, Detach: true}
	//lint:ignore SA1019 RunDeploy is docker stack deploy itself, the code this must match (docker/cli v29 unexports it: issue 29)
	if err := stackswarm.RunDeploy(ctx, cli, flags, opts, &cfg); err != nil {
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
	list := list.Items
	if err != nil {
		return nil, &jobs.EngineError{Msg: "list the stack's services", Err: err}
	}
	ns := convert.NewNamespace(s.Name)
	out := make(map[string]swarm.Service, len(list))
	for _, svc := range list {
		out[ns.Descope(svc.Spec.Name)] = svc
	}
	return out, nil
}

// ConfigWarnings are what docker stack deploy says of the stack files before
// it deploys them: the options it ignores, in its own words and with its own
// lists. The jobs are left out: jobrun runs them, and reads their restart:.
// The files are read again: the stack was loaded without the warnings.
func ConfigWarnings(files []string, jobs []string) []string {
	//lint:ignore SA1019 GetConfigDetails is the loader docker stack deploy itself uses (docker/cli v29 unexports it: issue 29)
	details, err := stackloader.GetConfigDetails(files, strings.NewReader(""))
	if err != nil {
		return nil // the stack loaded once already; only a file on stdin cannot be read twice
	}
	dicts := make([]map[string]any, 0, len(details.ConfigFiles))
	for _, f := range details.ConfigFiles {
		dict := maps.Clone(f.Config)
		if services, ok := dict["services"].(map[string]any); ok {
			services = maps.Clone(services)
			for _, job := range jobs {
				delete(services, job)
			}
			dict["services"] = services
		}
		dicts = append(dicts, dict)
	}
	var out []string
	if names := loader.GetUnsupportedProperties(dicts...); len(names) > 0 {
		out = append(out, "Ignoring unsupported options: "+strings.Join(names, ", "))
	}
	deprecated := loader.GetDeprecatedProperties(dicts...)
	for _, name := range slices.Sorted(maps.Keys(deprecated)) {
		out = append(out, fmt.Sprintf("Ignoring deprecated options: %s: %s", name, deprecated[name]))
	}
	return out
}
