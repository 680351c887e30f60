// Package jobstest has test doubles for the engine calls jobrun's packages
// make, in the httptest style: used by the unit tests of jobs/ and
// commands/ alike.
package jobstest

import (
	"context"
	"slices"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Configs is an in-memory Swarm config store that filters by label as the
// engine does, and lists in the order configs were created. Calls are safe
// from several goroutines; each costs the same at 10,000 configs as at 10.
type Configs struct {
	mu      sync.Mutex
	byID    map[string]swarm.Config
	order   []string        // IDs in the order created; removed ones are skipped, then dropped
	gone    map[string]bool // removed since the order last dropped them
	Created []string        // config names, in the order created
}

func (c *Configs) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	spec := o.Spec
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil {
		c.byID = map[string]swarm.Config{}
	}
	// A config's ID is its name here, so a name taken is an ID taken.
	if _, taken := c.byID[spec.Name]; taken {
		return client.ConfigCreateResult{}, cerrdefs.ErrConflict.WithMessage("config " + spec.Name + " already exists")
	}
	labels := make(map[string]string, len(spec.Labels))
	for k, v := range spec.Labels {
		labels[k] = v
	}
	spec.Labels = labels   // the engine keeps its own copy
	if c.gone[spec.Name] { // created again: it lists last, as on the engine
		c.order = slices.DeleteFunc(c.order, func(id string) bool { return id == spec.Name })
		delete(c.gone, spec.Name)
	}
	c.byID[spec.Name] = swarm.Config{ID: spec.Name, Spec: spec}
	c.order = append(c.order, spec.Name)
	c.Created = append(c.Created, spec.Name)
	return client.ConfigCreateResult{ID: spec.Name}, nil
}

func (c *Configs) ConfigList(_ context.Context, o client.ConfigListOptions) (client.ConfigListResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []swarm.Config
	want := o.Filters["label"]
	live := c.order[:0]
	for _, id := range c.order {
		cfg, ok := c.byID[id]
		if !ok {
			continue
		}
		live = append(live, id) // drops the removed as it goes
		if matches(cfg.Spec.Labels, want) {
			out = append(out, cfg)
		}
	}
	c.order, c.gone = live, nil
	return client.ConfigListResult{Items: out}, nil
}

func (c *Configs) ConfigRemove(_ context.Context, id string, _ client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[id]; !ok {
		return client.ConfigRemoveResult{}, cerrdefs.ErrNotFound.WithMessage("config " + id + " not found")
	}
	delete(c.byID, id)
	if c.gone == nil {
		c.gone = map[string]bool{}
	}
	c.gone[id] = true
	return client.ConfigRemoveResult{}, nil
}

// matches applies label filters: "key" needs the label, "key=value" its value.
func matches(labels map[string]string, filters map[string]bool) bool {
	for f := range filters {
		k, v, hasValue := strings.Cut(f, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}
