package deploy

import (
	"context"
	"fmt"
	"strings"

	"jobrun/deploy"
	"jobrun/jobs"
)

// mayHaveChanged says, for a release stopped by a pre-deploy job that
// failed after it began changing things, what the team must now know: a
// migration that failed halfway leaves what it did (MariaDB's DDL is not
// transactional), and the services still run a version that may not expect
// it. "" when no failed job printed a sign of change.
func (r *release) mayHaveChanged(ctx context.Context) string {
	var changed []string
	for _, run := range r.runs {
		if run.Outcome != jobs.Succeeded && run.MayHaveChanged {
			changed = append(changed, run.Job)
		}
	}
	if len(changed) == 0 {
		return ""
	}
	left := "the services were left as they were"
	if recs, err := (deploy.Records{Engine: r.engine}).List(ctx, r.o.Stack); err == nil {
		if live, ok := deploy.LiveVersion(recs); ok {
			left = "the services were left on version " + live + ", which may not expect those changes"
		}
	}
	first := changed[0]
	return fmt.Sprintf("WARNING: job %s may have changed the database (or what else it works on) before it failed, and what it changed stays; %s: read what it did with jobrun logs %s --version %s, check the database with jobrun exec %s --version %s -- CMD, and mend it before the next release",
		strings.Join(changed, ", "), left, first, r.o.Version, first, r.o.Version)
}
