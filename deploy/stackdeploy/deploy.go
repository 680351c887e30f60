package stackdeploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/docker/cli/cli/compose/convert"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/client"
)

// The values of docker stack deploy's --resolve-image.
const (
	ResolveAlways  = "always"  // ask the registry for every service's digest
	ResolveChanged = "changed" // only for new services and changed images
	ResolveNever   = "never"   // never; keep an unchanged image's pinned digest
)

// ErrNotSwarmManager is the CLI's refusal to deploy through an engine that
// cannot create swarm-scoped networks.
var ErrNotSwarmManager = errors.New(`this node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again`)

// Deployer is one docker stack deploy --detach of a stack: it does not wait
// for the services to converge.
type Deployer struct {
	Engine    client.APIClient
	Namespace string // the stack's name
	// ResolveImage is --resolve-image: ResolveAlways (also for ""; the
	// CLI's default), ResolveChanged or ResolveNever.
	ResolveImage string
	// RegistryAuth is the X-Registry-Auth for an image, as
	// --with-registry-auth sends it; nil sends none. An error fails the
	// deploy, as the CLI's credential lookup does.
	RegistryAuth func(image string) (string, error)
	Prune        bool      // remove the stack's services the file does not have
	Out          io.Writer // the CLI's progress lines; nil: discarded
	Warn         io.Writer // its error stream: warnings; nil: discarded
}

// Deploy deploys cfg in docker stack deploy's order: check the engine,
// prune, networks, secrets, configs, then services. A failed step ends it,
// leaving what earlier steps did, as the CLI does.
func (d Deployer) Deploy(ctx context.Context, cfg *composetypes.Config) error {
	if err := d.check(); err != nil {
		return err
	}
	if err := d.checkManager(ctx); err != nil {
		return err
	}
	if d.Prune {
		d.prune(ctx, cfg)
	}
	if err := d.networks(ctx, cfg); err != nil {
		return err
	}
	if err := d.secrets(ctx, cfg); err != nil {
		return err
	}
	if err := d.configs(ctx, cfg); err != nil {
		return err
	}
	return d.services(ctx, cfg)
}

// check refuses what docker stack deploy refuses before it calls the
// engine: a blank stack name and an unknown --resolve-image.
func (d Deployer) check() error {
	if strings.TrimFunc(d.Namespace, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || r == '\'' }) == "" {
		return fmt.Errorf("invalid stack name: %q", d.Namespace)
	}
	switch d.ResolveImage {
	case "", ResolveAlways, ResolveChanged, ResolveNever:
		return nil
	}
	return fmt.Errorf("invalid option %s for flag --resolve-image", d.ResolveImage)
}

// checkManager asks the engine whether it is a swarm manager first: a
// network create on a worker fails without saying why.
func (d Deployer) checkManager(ctx context.Context) error {
	res, err := d.Engine.Info(ctx, client.InfoOptions{})
	if err != nil {
		return fmt.Errorf("ask the engine whether it is a swarm manager: %w", err)
	}
	if !res.Info.Swarm.ControlAvailable {
		return ErrNotSwarmManager
	}
	return nil
}

// namespace is the stack's scope for names and its label.
func (d Deployer) namespace() convert.Namespace {
	return convert.NewNamespace(d.Namespace)
}

// stackFilter selects the objects docker stack deploy labelled as the
// stack's.
func (d Deployer) stackFilter() client.Filters {
	return make(client.Filters).Add("label", convert.LabelNamespace+"="+d.Namespace)
}

func (d Deployer) out() io.Writer  { return orDiscard(d.Out) }
func (d Deployer) warn() io.Writer { return orDiscard(d.Warn) }

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
