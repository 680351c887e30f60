package jobs

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// ContainerAPI is what reaping a removed job's containers asks of the
// engine jobrun talks to.
type ContainerAPI interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerRemove(ctx context.Context, containerID string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
}

// reap removes the exited containers of a removed job service from the
// node jobrun talks to. Engine 20.10 keeps them when the service goes (so
// does docker's own replicated job there): a hundred runs left a hundred,
// holding their volumes. Other nodes' engines cannot be reached from here:
// it says how many attempts ran there. Best effort: the run is over.
func (r *Runner) reap(ctx context.Context, job Job, serviceID string, attempts []Attempt) {
	if r.Containers == nil {
		return
	}
	res, err := r.Containers.Info(ctx, client.InfoOptions{})
	info := res.Info
	if err != nil {
		return
	}
	list, err := r.Containers.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "com.docker.swarm.service.id="+serviceID)})
	if err != nil {
		return
	}
	for _, c := range list.Items {
		if c.State == container.StateRunning {
			continue // never: the stop was confirmed; a running one is not ours to end
		}
		if _, err := r.Containers.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
			r.Report.Notice(job.Name, fmt.Sprintf("WARNING: could not remove the exited container %s of the job (%s): docker rm %s", shortID(c.ID), OneLine(err), shortID(c.ID)))
		}
	}
	elsewhere := 0
	for _, a := range attempts {
		if a.ContainerID != "" && a.NodeID != info.Swarm.NodeID {
			elsewhere++
		}
	}
	if elsewhere > 0 {
		r.Report.Notice(job.Name, fmt.Sprintf("%d attempt(s) ran on other nodes, whose engines jobrun does not reach: where they keep exited job containers (Engine 20.10 does), docker container prune there removes them", elsewhere))
	}
}
