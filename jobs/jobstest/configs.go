// Package jobstest has test doubles for the engine calls jobrun's packages
// make, in the httptest style: used by the unit tests of jobs/ and
// commands/ alike.
package jobstest

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"
)

// Configs is an in-memory Swarm config store that filters by label as the
// engine does. Calls are safe from several goroutines.
type Configs struct {
	mu      sync.Mutex
	configs []swarm.Config
	Created []string // config names, in the order created
}

func (c *Configs) ConfigCreate(_ context.Context, spec swarm.ConfigSpec) (swarm.ConfigCreateResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, have := range c.configs {
		if have.Spec.Name == spec.Name {
			return swarm.ConfigCreateResponse{}, errdefs.Conflict(errors.New("config " + spec.Name + " already exists"))
		}
	}
	labels := make(map[string]string, len(spec.Labels))
	for k, v := range spec.Labels {
		labels[k] = v
	}
	spec.Labels = labels // the engine keeps its own copy
	c.configs = append(c.configs, swarm.Config{ID: spec.Name, Spec: spec})
	c.Created = append(c.Created, spec.Name)
	return swarm.ConfigCreateResponse{ID: spec.Name}, nil
}

func (c *Configs) ConfigList(_ context.Context, o swarm.ConfigListOptions) ([]swarm.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []swarm.Config
	want := o.Filters.Get("label")
	for _, cfg := range c.configs {
		if matches(cfg.Spec.Labels, want) {
			out = append(out, cfg)
		}
	}
	return out, nil
}

func (c *Configs) ConfigRemove(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, cfg := range c.configs {
		if cfg.ID == id {
			c.configs = append(c.configs[:i], c.configs[i+1:]...)
			return nil
		}
	}
	return errdefs.NotFound(errors.New("config " + id + " not found"))
}

// matches applies label filters: "key" needs the label, "key=value" its value.
func matches(labels map[string]string, filters []string) bool {
	for _, f := range filters {
		k, v, hasValue := strings.Cut(f, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}
