package jobs

import (
	"context"
	"fmt"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// DefaultKeep is how many runs of each job Prune keeps unless told.
const DefaultKeep = 50

// pruneWorkers bounds the removals in flight. The manager commits each one
// through raft in turn, so more only queue: on Engine 20.10, 3,000 removals
// took 3.2 s one at a time, 2.5 s four at a time, 2.0 s sixteen at a time.
const pruneWorkers = 8

// PruneResult counts what Prune found and did.
type PruneResult struct {
	Runs           int // the runs whose records it found
	Kept           int // of those, the runs whose record stays
	RemovedRecords int
	RemovedOutputs int // of removed runs and of kept successes (see planPrune)
	RemovedSpecs   int // of removed runs that kept one (SaveSpec)
	// Gone counts configs that were not there to remove: another jobrun
	// pruning the same job removed them, or the run kept no output.
	Gone   int
	Failed int // removals the engine refused: the error says the first
}

// storedRun is a run as its record's labels and name describe it: all that
// pruning needs, so no record is decoded.
type storedRun struct {
	configID, runID, job, version string
	outcome                       Outcome
	spec                          string // the config of its kept spec, if any
}

// storedRunOf reads a record config; false for one jobrun did not name.
func storedRunOf(c swarm.Config) (storedRun, bool) {
	l := c.Spec.Labels
	r := storedRun{configID: c.ID, runID: l[LabelRunID], job: l[LabelJob], version: l[LabelVersion], outcome: Outcome(l[labelOutcome]), spec: l[labelSpec]}
	return r, r.runID != "" && r.job != "" && c.Spec.Name == recordName(r.runID)
}

// pruneStep is what goes of one run: its output alone, or output and record.
type pruneStep struct {
	run    storedRun
	record bool
}

// planPrune decides what goes of one job's runs, given newest first:
//
//   - The newest keep runs stay, record and output.
//   - So does the record of the newest success of every version that has a
//     run among them, however old: the already-succeeded check reads it, so
//     a version still being run is not run again because its success scrolled
//     out. Every other run goes, output and record. Running a version again
//     whose runs have all gone runs its job again.
//   - When something must go, a success's output goes before a failure's:
//     a failed run's output says why the job broke, which is what people come
//     back for, while a success's seldom is; and outputs (up to 400 KiB) are
//     what fill the swarm's store, records (about 1 KiB) hardly. So a success
//     kept only for the check, outside the newest keep, keeps its record but
//     not its output, and no failed run loses its output while its record stays.
func planPrune(runs []storedRun, keep int) (steps []pruneStep, kept int) {
	window := min(keep, len(runs))
	inWindow := map[string]bool{}
	for _, r := range runs[:window] {
		inWindow[r.version] = true
	}
	anchored := map[string]bool{} // versions whose newest success is found
	for i, r := range runs {
		anchor := r.outcome == Succeeded && inWindow[r.version] && !anchored[r.version]
		if anchor {
			anchored[r.version] = true
		}
		switch {
		case i < window:
			kept++
		case anchor:
			kept++
			steps = append(steps, pruneStep{run: r})
		default:
			steps = append(steps, pruneStep{run: r, record: true})
		}
	}
	return steps, kept
}

// Prune keeps of each job's runs (job "" means every job of the stack) the
// newest keep and the successes the already-succeeded check needs, and
// removes the rest, as planPrune says. It decides from the records' labels
// alone. A config already gone is fine: another jobrun may be pruning the
// same job. On the first removal the engine refuses, it starts no more.
func (s Records) Prune(ctx context.Context, stack, job string, keep int) (PruneResult, error) {
	if keep < 1 {
		return PruneResult{}, &UsageError{Msg: fmt.Sprintf("cannot keep %d runs: keep at least the newest (default %d)", keep, DefaultKeep)}
	}
	cfgs, err := s.configs(ctx, RecordFilter{Stack: stack, Job: job})
	if err != nil {
		return PruneResult{}, err
	}
	var names []string
	byJob := map[string][]storedRun{}
	for _, c := range cfgs {
		if r, ok := storedRunOf(c); ok {
			if byJob[r.job] == nil {
				names = append(names, r.job)
			}
			byJob[r.job] = append(byJob[r.job], r)
		}
	}
	var res PruneResult
	var steps []pruneStep
	for _, name := range names {
		more, kept := planPrune(byJob[name], keep)
		res.Runs, res.Kept, steps = res.Runs+len(byJob[name]), res.Kept+kept, append(steps, more...)
	}
	return res, s.prune(ctx, steps, &res)
}

// prune takes the steps, a few at a time. A run's output and spec go
// before its record, so an interrupted prune leaves none that no record
// leads to: the next prune finds the record and finishes.
func (s Records) prune(ctx context.Context, steps []pruneStep, res *PruneResult) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	// remove removes one config and counts the result; false if refused.
	remove := func(id string, removed *int) bool {
		_, err := s.Engine.ConfigRemove(ctx, id, client.ConfigRemoveOptions{})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			*removed++
		case cerrdefs.IsNotFound(err):
			res.Gone++
		case ctx.Err() != nil:
			return false // interrupted: said below
		default:
			res.Failed++
			if first == nil {
				first = fmt.Errorf("remove run record config %s: %w", id, err)
			}
			return false
		}
		return true
	}
	refused := func() bool { mu.Lock(); defer mu.Unlock(); return first != nil }
	work := make(chan pruneStep)
	for range min(pruneWorkers, len(steps)) {
		wg.Go(func() {
			for st := range work {
				if !remove(outputName(st.run.runID), &res.RemovedOutputs) || !st.record {
					continue
				}
				if st.run.spec == "" || remove(st.run.spec, &res.RemovedSpecs) {
					remove(st.run.configID, &res.RemovedRecords)
				}
			}
		})
	}
	// Oldest first: an interrupted prune leaves the history whole, only longer.
feed:
	for i := len(steps) - 1; i >= 0 && !refused(); i-- {
		select {
		case work <- steps[i]:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	switch {
	case first != nil:
		return fmt.Errorf("removed %d run records and %d outputs, then the engine refused: %w", res.RemovedRecords, res.RemovedOutputs, first)
	case ctx.Err() != nil:
		return fmt.Errorf("removed %d run records and %d outputs, then stopped: %w", res.RemovedRecords, res.RemovedOutputs, ctx.Err())
	}
	return nil
}
