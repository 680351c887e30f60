package jobs

import (
	"context"
	"regexp"
	"slices"

	"github.com/moby/moby/api/types/swarm"
)

// removedNetwork finds the engine's "network NAME not found" in a service
// create's error.
var removedNetwork = regexp.MustCompile(`network (\S+) not found`)

// RemovedNetwork is the network a service create found missing from the
// swarm, if that is why it failed: after docker stack rm deleted a stack's
// network, the engine still lists and inspects its copy on this node until
// the removed tasks' containers there are gone, so a network found a moment
// before can be gone at create. Only the message says so (Engine 20.10
// answers 500): the caller checks that the name is one of its own.
func RemovedNetwork(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	m := removedNetwork.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[1], true
}

// NetworkMaker makes the network name of the stack exist again once its
// removal has ended: what a release does (jobrun deploy creates the
// stack's networks, as docker stack deploy does).
type NetworkMaker func(ctx context.Context, name string) error

// usesNetwork reports whether the job's service attaches to the network
// name, as its spec names it.
func usesNetwork(spec swarm.ServiceSpec, name string) bool {
	return slices.ContainsFunc(spec.TaskTemplate.Networks, func(n swarm.NetworkAttachmentConfig) bool { return n.Target == name })
}

// NetworkMissingError is a network of the stack's that a job needs and the
// engine does not have: the stack is not deployed, or docker stack rm
// removed it. It is the usage error that says so, naming the network, so
// that a release, which makes the stack's networks, can make it again.
type NetworkMissingError struct {
	Network string
	Usage   UsageError
}

func (e *NetworkMissingError) Error() string { return e.Usage.Msg }
func (e *NetworkMissingError) Unwrap() error { return &e.Usage }
