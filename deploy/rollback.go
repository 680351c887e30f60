package deploy

import (
	"fmt"
	"slices"

	"jobrun/jobs"
)

// RollbackTarget is the release jobrun rollback puts back, from the
// stack's deploy records (oldest first): with version, that version's
// newest released deploy; without, the newest released deploy before the
// one live now, of another version. Live is the newest deploy, whatever
// its verdict (a failed one may have changed services half-way), except
// that after a rollback it is the release the rollback put back: a second
// rollback goes further back, not forward again.
func RollbackTarget(recs []Record, stack, version string) (Record, error) {
	if len(recs) == 0 {
		return Record{}, &jobs.UsageError{Msg: fmt.Sprintf("stack %s has no deploy record: jobrun rollback puts back a release made by jobrun deploy (jobrun history lists them)", stack)}
	}
	if version != "" {
		if r, ok := newest(recs, func(r Record) bool { return r.Verdict == Released && r.Version == version }); ok {
			return r, nil
		}
		return Record{}, &jobs.UsageError{Msg: fmt.Sprintf("--to %s: stack %s has no released deploy of version %s: jobrun history lists the deploys", version, stack, version)}
	}
	live := recs[len(recs)-1]
	if live.Verdict == RolledBackTo {
		if restored, ok := newest(recs, func(r Record) bool { return r.ID == live.Restores }); ok {
			live = restored
		}
	}
	if r, ok := newest(recs, func(r Record) bool {
		return r.Verdict == Released && r.Started.Before(live.Started) && r.Version != live.Version
	}); ok {
		return r, nil
	}
	return Record{}, &jobs.UsageError{Msg: fmt.Sprintf("stack %s has no released deploy before version %s (deploy %s) to roll back to: name one with --to VERSION (jobrun history lists them)", stack, live.Version, live.ID)}
}

// newest is the last of recs that is, and whether there is one.
func newest(recs []Record, is func(Record) bool) (Record, bool) {
	for _, r := range slices.Backward(recs) {
		if is(r) {
			return r, true
		}
	}
	return Record{}, false
}

// RunsSince are the job runs that succeeded after the release ended,
// oldest first, and of them those that may have changed what its services
// expect: every one but a post-deploy job's — a pre-deploy job's (the
// migrations applied since) or one run by hand with jobrun run.
func RunsSince(runs []jobs.Record, recs []Record, release Record) (since, pre []jobs.Record) {
	post := map[string]bool{}
	for _, d := range recs {
		for _, j := range d.Jobs {
			if j.Phase == PostDeploy {
				post[j.RunID] = true
			}
		}
	}
	runs = slices.SortedFunc(slices.Values(runs), func(a, b jobs.Record) int { return a.Started.Compare(b.Started) })
	for _, r := range runs {
		if r.Outcome != jobs.Succeeded || r.Exec != nil || r.Skipped || !r.Started.After(release.Ended) {
			continue
		}
		since = append(since, r)
		if !post[r.RunID] {
			pre = append(pre, r)
		}
	}
	return since, pre
}
