package jobs

import (
	"context"

	"github.com/moby/moby/client"
)

// Engine is what a run asks of the Docker engine: the job service, its
// tasks and their nodes, the job's container events, and the configs that
// hold run records. It is narrow so that the run lifecycle is tested with a
// recording fake; *client.Client satisfies it.
type Engine interface {
	TaskSource
	ConfigAPI
	ServiceCreate(ctx context.Context, options client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceUpdate(ctx context.Context, serviceID string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ServiceRemove(ctx context.Context, serviceID string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	Events(ctx context.Context, options client.EventsListOptions) client.EventsResult
}
