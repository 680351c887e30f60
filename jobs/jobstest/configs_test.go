package jobstest

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// TestConfigsListInCreationOrder: the store lists as the engine does, a
// config created again after its removal last, and filters by label.
func TestConfigsListInCreationOrder(t *testing.T) {
	ctx := context.Background()
	var c Configs
	for _, name := range []string{"a", "b", "c"} {
		if _, err := c.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name, Labels: map[string]string{"kind": "x"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "b"}}); err == nil {
		t.Error("a second config named b was created")
	}
	if err := c.ConfigRemove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigRemove(ctx, "a"); err == nil {
		t.Error("a was removed twice")
	}
	if _, err := c.ConfigCreate(ctx, swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	got := func(f filters.Args) (names string) {
		list, _ := c.ConfigList(ctx, swarm.ConfigListOptions{Filters: f})
		for _, cfg := range list {
			names += cfg.Spec.Name
		}
		return names
	}
	if all, x := got(filters.NewArgs()), got(filters.NewArgs(filters.Arg("label", "kind=x"))); all != "bca" || x != "bc" {
		t.Errorf("listed %q and, by label, %q; want bca and bc", all, x)
	}
}
