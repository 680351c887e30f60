package jobs

import (
	"context"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/swarm"
)

// Engine is what a run asks of the Docker engine: the job service, its
// tasks and their nodes, the job's container events, and the configs that
// hold run records. It is narrow so that the run lifecycle is tested with a
// recording fake; *client.Client satisfies it.
type Engine interface {
	TaskSource
	ConfigAPI
	ServiceCreate(ctx context.Context, spec swarm.ServiceSpec, options swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error)
	ServiceUpdate(ctx context.Context, serviceID string, version swarm.Version, spec swarm.ServiceSpec, options swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	ServiceRemove(ctx context.Context, serviceID string) error
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
}
