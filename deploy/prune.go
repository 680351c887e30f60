package deploy

import (
	"context"
	"fmt"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

const labelVerdict = "io.jobrun.verdict"

func recordName(id string) string { return "jobrun-deploy-" + id }

// Prune keeps the stack's newest keep deploy records, and however old the
// live release and the one jobrun rollback would put back, with their
// service specs; the rest go. It returns how many records it removed.
func (s Records) Prune(ctx context.Context, stack string, keep int) (int, error) {
	// Specs first: a deploy saves its record before its specs, so specs
	// saved meanwhile are not listed, and not taken for an orphan's.
	specs, err := s.configs(ctx, kindSpecs, stack)
	if err != nil {
		return 0, err
	}
	records, err := s.configs(ctx, kindDeploy, stack)
	if err != nil {
		return 0, err
	}
	kept := keptDeploys(decodeRecords(records), keep)
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

// keptDeploys are the IDs of the records (oldest first) that stay.
func keptDeploys(recs []Record, keep int) map[string]bool {
	kept := map[string]bool{}
	for _, r := range recs[max(0, len(recs)-keep):] {
		kept[r.ID] = true
	}
	if line := liveLine(recs); len(line) > 0 {
		kept[line[len(line)-1].ID] = true
	}
	if target, err := RollbackTarget(recs, "", ""); err == nil {
		kept[target.ID] = true
	}
	return kept
}

func (s Records) remove(ctx context.Context, c swarm.Config) error {
	if _, err := s.Engine.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove %s: %w", c.Spec.Name, err)
	}
	return nil
}
