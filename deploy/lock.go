package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

// lockHolder is what a lock says of the deploy holding it.
type lockHolder struct {
	Version string    `json:"version"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
}

// Lock is one deploy at a time per stack: a Swarm config whose name is the
// stack's, which only one create can make.
type Lock struct {
	Engine jobs.ConfigAPI
	Stack  string
	Now    func() time.Time
	After  func(time.Duration) <-chan time.Time
	id     string
}

func (l *Lock) name() string { return "jobrun-deploy-lock-" + l.Stack }

// Acquire takes the lock, waiting up to wait for the deploy holding it.
func (l *Lock) Acquire(ctx context.Context, version string, wait time.Duration) error {
	host, _ := os.Hostname()
	data, _ := json.Marshal(lockHolder{Version: version, Host: host, PID: os.Getpid(), Since: l.Now().UTC()})
	deadline := l.Now().Add(wait)
	for {
		resp, err := l.Engine.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
			Annotations: swarm.Annotations{Name: l.name(), Labels: map[string]string{jobs.LabelKind: kindLock, jobs.LabelStack: l.Stack}},
			Data:        data,
		}})
		if err == nil {
			l.id = resp.ID
			return nil
		}
		if !cerrdefs.IsConflict(err) && !cerrdefs.IsInvalidArgument(err) {
			return &jobs.EngineError{Msg: "take the deploy lock of stack " + l.Stack, Err: err}
		}
		holder := l.holder(ctx)
		if !l.Now().Before(deadline) {
			return &jobs.ConflictError{Msg: fmt.Sprintf("another deploy of stack %s is in progress (%s): wait for it with --wait-lock 10m, or if it died, remove its lock: docker config rm %s", l.Stack, holder, l.name())}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.After(time.Second):
		}
	}
}

// holder describes the deploy that holds the lock.
func (l *Lock) holder(ctx context.Context) string {
	list, err := l.Engine.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", jobs.LabelKind+"="+kindLock).Add("label", jobs.LabelStack+"="+l.Stack)})
	cfgs := list.Items
	if err != nil || len(cfgs) == 0 {
		return "its holder is unknown"
	}
	var h lockHolder
	if json.Unmarshal(cfgs[0].Spec.Data, &h) != nil {
		return "its holder is unknown"
	}
	return fmt.Sprintf("version %s, from %s pid %d, since %s", h.Version, h.Host, h.PID, jobs.FormatTime(h.Since))
}

// Release gives the lock up, even after an interrupt.
func (l *Lock) Release(ctx context.Context) error {
	if l.id == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := l.Engine.ConfigRemove(ctx, l.id, client.ConfigRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("release the deploy lock (remove it with docker config rm %s): %w", l.name(), err)
	}
	return nil
}
