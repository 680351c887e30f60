package jobstest

import (
	"context"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// TestConfigsListInCreationOrder: the store lists as the engine does, a
// config created again after its removal last, and filters by label.
func TestConfigsListInCreationOrder(t *testing.T) {
	ctx := context.Background()
	var c Configs
	for _, name := range []string{"a", "b", "c"} {
		if _, err := c.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: name, Labels: map[string]string{"kind": "x"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "b"}}}); err == nil {
		t.Error("a second config named b was created")
	}
	if _, err := c.ConfigRemove(ctx, "a", client.ConfigRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfigRemove(ctx, "a", client.ConfigRemoveOptions{}); err == nil {
		t.Error("a was removed twice")
	}
	if _, err := c.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "a"}}}); err != nil {
		t.Fatal(err)
	}
	got := func(f client.Filters) (names string) {
		listed, _ := c.ConfigList(ctx, client.ConfigListOptions{Filters: f})
		for _, cfg := range listed.Items {
			names += cfg.Spec.Name
		}
		return names
	}
	if all, x := got(make(client.Filters)), got(make(client.Filters).Add("label", "kind=x")); all != "bca" || x != "bc" {
		t.Errorf("listed %q and, by label, %q; want bca and bc", all, x)
	}
}
