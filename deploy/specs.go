package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"jobrun/jobs"
)

const (
	kindSpecs     = "deploy-specs"
	labelDeployID = "io.jobrun.deploy"
)

// Specs are a release's services as it left them, by their names in the
// stack file: what jobrun rollback puts back, digests and all, without
// reading today's stack file.
type Specs map[string]swarm.ServiceSpec

// SpecsOf keeps the stack's services, not its jobs: a job service a
// failed run kept joins the stack, but is no part of a release.
func SpecsOf(services map[string]swarm.Service) Specs {
	out := Specs{}
	for name, svc := range services {
		if m := svc.Spec.Mode; m.ReplicatedJob == nil && m.GlobalJob == nil {
			out[name] = svc.Spec
		}
	}
	return out
}

// Names are the services, sorted: the order a rollback goes through them.
func (s Specs) Names() []string { return slices.Sorted(maps.Keys(s)) }

func specsName(deployID string) string { return "jobrun-deploy-" + deployID + "-specs" }

// SaveSpecs keeps a release's specs beside its record. Specs hold what
// service inspect shows (environment values among it), so they are kept
// where the services themselves are: in the swarm's store.
func (s Records) SaveSpecs(ctx context.Context, stack, deployID string, specs Specs) error {
	data, err := json.Marshal(specs)
	if err != nil {
		return err
	}
	_, err = s.Engine.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: specsName(deployID), Labels: map[string]string{
			jobs.LabelKind: kindSpecs, jobs.LabelStack: stack, labelDeployID: deployID,
		}},
		Data: data,
	}})
	if err != nil {
		return fmt.Errorf("keep the service specs of deploy %s (jobrun rollback needs them): %w", deployID, err)
	}
	return nil
}

// Specs reads a release's specs; false when it kept none.
func (s Records) Specs(ctx context.Context, stack, deployID string) (Specs, bool, error) {
	list, err := s.Engine.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("label", jobs.LabelKind+"="+kindSpecs).Add("label", jobs.LabelStack+"="+stack).Add("label", labelDeployID+"="+deployID)})
	cfgs := list.Items
	if err != nil {
		return nil, false, &jobs.EngineError{Msg: "read the service specs of deploy " + deployID, Err: err}
	}
	for _, c := range cfgs {
		var specs Specs
		if c.Spec.Name == specsName(deployID) && json.Unmarshal(c.Spec.Data, &specs) == nil {
			return specs, true, nil
		}
	}
	return nil, false, nil
}
