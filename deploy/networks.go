package deploy

import (
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// removalWait bounds the wait for a removed network's copy on this node to
// go: it goes with the removed tasks' last container, after their stop
// grace period (10 s unless the stack file says otherwise).
const removalWait = 2 * time.Minute

// RemakeNetwork makes the stack's network name again once its removal has
// ended (docker stack rm under way): until the removed tasks' containers
// on this node are gone, the engine lists the network the swarm no longer
// has, and refuses to create one of that name. It is a jobs.NetworkMaker.
func (s Stack) RemakeNetwork(ctx context.Context, name string) error {
	fmt.Fprintf(s.Out, "network %s is being removed (docker stack rm under way): waiting for its removal to end, then creating it again\n", name)
	if err := s.awaitRemoval(ctx, name); err != nil {
		return err
	}
	return s.CreateNetworks(ctx)
}

// awaitRemoval waits until the engine no longer has the network's old copy
// (none of that name, or a new one), looking once a second, at most for
// removalWait.
func (s Stack) awaitRemoval(ctx context.Context, name string) error {
	after := s.After
	if after == nil {
		after = time.After
	}
	var old string
	for waited := time.Duration(0); ; waited += time.Second {
		inspected, err := s.Engine.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			return nil
		case err != nil:
			return &jobs.EngineError{Msg: "inspect network " + name, Err: err}
		case old == "":
			old = inspected.Network.ID
		case inspected.Network.ID != old:
			return nil
		}
		if waited >= removalWait {
			return &jobs.EngineError{Msg: fmt.Sprintf("network %s is still being removed after %s: try again once docker network ls no longer lists it", name, removalWait)}
		}
		select {
		case <-after(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
