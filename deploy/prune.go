package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/errdefs"

	"jobrun/jobs"
)

const labelVerdict = "io.jobrun.verdict"

func recordName(id string) string { return "jobrun-deploy-" + id }

// Prune keeps the stack's newest keep deploy records, and the newest
// released one however old (jobrun rollback's default target), with their
// service specs; the rest go. It returns how many records it removed.
func (s Records) Prune(ctx context.Context, stack string, keep int) (int, error) {
	list := func(kind string) ([]swarm.Config, error) {
		cfgs, err := s.Engine.ConfigList(ctx, swarm.ConfigListOptions{Filters: filters.NewArgs(
			filters.Arg("label", jobs.LabelKind+"="+kind), filters.Arg("label", jobs.LabelStack+"="+stack))})
		if err != nil {
			return nil, fmt.Errorf("list deploy records: %w", err)
		}
		return cfgs, nil
	}
	records, err := list(kindDeploy)
	if err != nil {
		return 0, err
	}
	specs, err := list(kindSpecs)
	if err != nil {
		return 0, err
	}
	kept := keptDeploys(records, keep)
	removed := 0
	for _, c := range records {
		if !kept[strings.TrimPrefix(c.Spec.Name, recordName(""))] {
			if err := s.remove(ctx, c); err != nil {
				return removed, err
			}
			removed++
		}
	}
	for _, c := range specs {
		if !kept[c.Spec.Labels[labelDeployID]] {
			if err := s.remove(ctx, c); err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

// keptDeploys are the IDs of the records that stay. IDs begin with the
// time the deploy started, so names sort by time without decoding.
func keptDeploys(records []swarm.Config, keep int) map[string]bool {
	slices.SortFunc(records, func(a, b swarm.Config) int { return strings.Compare(b.Spec.Name, a.Spec.Name) })
	kept := map[string]bool{}
	released := false
	for i, c := range records {
		isReleased := c.Spec.Labels[labelVerdict] == string(Released)
		if i < keep || (isReleased && !released) {
			kept[strings.TrimPrefix(c.Spec.Name, recordName(""))] = true
		}
		released = released || isReleased
	}
	return kept
}

func (s Records) remove(ctx context.Context, c swarm.Config) error {
	if err := s.Engine.ConfigRemove(ctx, c.ID); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", c.Spec.Name, err)
	}
	return nil
}
