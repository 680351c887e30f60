package deploy

import (
	"fmt"
	"slices"

	"jobrun/jobs"
)

// RollbackTarget is the release jobrun rollback puts back, from the
// stack's deploy records (oldest first). With version: that version's
// newest released deploy. Without: after a failed deploy (which may have
// changed services half-way), the release live before it; after a failed
// rollback, the release it was putting back; else the release that was
// live before the live one, of another version. Going back follows the
// line of releases (liveLine): a second rollback goes further back, never
// forward again to the release a rollback undid.
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
	line := liveLine(recs)
	if len(line) == 0 {
		return Record{}, &jobs.UsageError{Msg: fmt.Sprintf("stack %s has no released deploy to roll back to: jobrun history lists the deploys", stack)}
	}
	live, last := line[len(line)-1], recs[len(recs)-1]
	if last.Verdict != Released && last.Verdict != RolledBackTo {
		if restored, ok := newest(recs, func(r Record) bool { return r.ID == last.Restores }); last.Restores != "" && ok {
			return restored, nil
		}
		return live, nil
	}
	if r, ok := newest(line, func(r Record) bool { return r.Version != live.Version }); ok {
		return r, nil
	}
	return Record{}, &jobs.UsageError{Msg: fmt.Sprintf("stack %s has no released deploy before version %s (deploy %s) to roll back to: name one with --to VERSION (jobrun history lists them)", stack, live.Version, live.ID)}
}

// liveLine is the line of releases that led to the one live now, oldest
// first: a released deploy joins it; a rollback goes back along it to the
// release it put back (which joins it again if it had left it, and which
// the rollback's record stands for if that release's record is pruned).
// Failed deploys and rollbacks leave it as it was.
func liveLine(recs []Record) []Record {
	var line []Record
	byID := map[string]Record{}
	for _, r := range recs {
		byID[r.ID] = r
		switch r.Verdict {
		case Released:
			line = append(line, r)
		case RolledBackTo:
			if i := slices.IndexFunc(line, func(l Record) bool { return l.ID == r.Restores }); i >= 0 {
				line = line[:i+1]
			} else if restored, ok := byID[r.Restores]; ok {
				line = append(line, restored)
			} else {
				line = append(line, r)
			}
		}
	}
	return line
}

// LiveVersion is the version whose services run now, as the stack's deploy
// records (oldest first) tell it, and whether any release put one there.
func LiveVersion(recs []Record) (string, bool) {
	line := liveLine(recs)
	if len(line) == 0 {
		return "", false
	}
	return line[len(line)-1].Version, true
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
