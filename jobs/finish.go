package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// cleanupTimeout bounds each end-of-run step, which runs even after an
// interrupt.
const cleanupTimeout = 30 * time.Second

// unconfirmedDrain bounds the wait for output after a stop Swarm could not
// confirm.
const unconfirmedDrain = 5 * time.Second

// finish ends a watched run in the order the user needs its steps:
//
//  1. end: the owner stops the job, so that nothing of it runs or starts
//     again on any node — unless the user detached on interrupt, or the
//     service was removed outside jobrun (then it says what Swarm still runs).
//  2. drain: the last output of every attempt is read, within the drain
//     timeout (a short one when Swarm could not confirm the stop).
//  3. save: the owner records the run; an attached run reports the owner's
//     record.
//  4. the verdict is printed.
//  5. remove: the owner removes the service, only once the record is saved
//     (the service is the evidence until then), and not with --keep, a
//     detach, or a stop Swarm could not confirm: the service then stays as
//     the job's lock.
//  6. prune: old records go; this can take seconds and never delays or
//     changes the verdict.
func (r *Runner) finish(ctx context.Context, job Job, l lease, v Verdict, out *followers, rec Record) (Record, error) {
	rec.Outcome, rec.Reason, rec.Attempts, rec.Surplus = v.Outcome, v.Reason, v.Attempts, v.Surplus
	if v.Outcome == Rejected && strings.Contains(v.Reason, "No such image") {
		rec.Reason += ": " + pullHint(rec.Image, r.Opts)
	}
	stopped, unconfirmed := r.end(ctx, job, l, v, &rec)
	outputs := r.drain(job, unconfirmed, out, &rec)
	rec, saved := r.save(ctx, job, l, v, outputs, rec)
	r.Report.Done(rec)
	if l.owner {
		r.removeOnce(ctx, job, l, stopped, saved, rec.Attempts)
		r.pruneRecords(ctx, job)
	}
	if rec.Outcome != Succeeded {
		return rec, &VerdictError{Outcome: rec.Outcome}
	}
	return rec, nil
}

// end is rule 1: it reports whether nothing of the job runs any more, and
// whether it asked for a stop that Swarm did not confirm.
func (r *Runner) end(ctx context.Context, job Job, l lease, v Verdict, rec *Record) (stopped, unconfirmed bool) {
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	switch {
	case v.Outcome == Removed:
		r.orphans(cleanCtx, job, v.Attempts)
	case r.detached(v):
		r.Report.Notice(job.Name, fmt.Sprintf("left running: service %s (stop it with docker service rm %s)", job.Spec.Name, job.Spec.Name))
	case l.owner:
		r.checkSurplus(cleanCtx, l, rec)
		// Ended runs only need the stop as a guard; say it when it ends one.
		// The stop waits out the job's own grace period and gives up on its
		// own deadline: cleanupTimeout must not cut it short.
		stopCtx, cancelStop := context.WithTimeout(context.WithoutCancel(ctx), stopGrace(job)+stopSlack+cleanupTimeout)
		defer cancelStop()
		if r.stop(stopCtx, job, l.serviceID, v.Outcome == TimedOut || v.Outcome == Interrupted) {
			return true, false
		}
		rec.StopNote = "the stop could not be confirmed: see the run's last progress lines"
		return false, true
	}
	return false, false
}

func (r *Runner) detached(v Verdict) bool {
	return v.Outcome == Interrupted && r.Opts.DetachOnInterrupt
}

// drain is rule 2: the attempts' last output, and the streams' locations.
func (r *Runner) drain(job Job, unconfirmed bool, out *followers, rec *Record) []AttemptOutput {
	drainFor := r.Opts.DrainTimeout
	if unconfirmed {
		// Swarm still reports the job running where it cannot stop it (a
		// lost node): that attempt's last output cannot be read now.
		drainFor = min(drainFor, unconfirmedDrain)
	}
	outputs, note := out.drain(r.After(drainFor))
	if note != "" {
		rec.LogNote = note
	}
	rec.Ended = r.Now()
	found := out.findings()
	for i, a := range rec.Attempts {
		if a.Started() {
			rec.Attempts[i].LogStream = r.Logs.Location(taskOf(job, a))
			rec.Attempts[i].Order = hintsOf(r.Logs, taskOf(job, a))
		}
		if f, ok := found[a.Number]; ok && a.State != swarm.TaskStateComplete {
			rec.Attempts[i].ErrorLine = f.ErrorLine
			rec.MayHaveChanged = rec.MayHaveChanged || (f.Changed && rec.Outcome != Succeeded)
		}
	}
	if rec.Outcome != Succeeded {
		rec.Failures = Failures(rec.Attempts)
		if said := FailureSummary(rec.Failures); said != "" && anyErrorLine(rec.Attempts) {
			rec.Reason += "; " + said
		}
	}
	return outputs
}

func anyErrorLine(attempts []Attempt) bool {
	for _, a := range attempts {
		if a.ErrorLine != "" {
			return true
		}
	}
	return false
}

// save is step 3: the owner's record kept (and whether it was); an
// attached run whose service was removed takes the owner's record, which
// has the verdict.
func (r *Runner) save(ctx context.Context, job Job, l lease, v Verdict, outputs []AttemptOutput, rec Record) (Record, bool) {
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	switch {
	case !l.owner && v.Outcome == Removed:
		if found, _ := r.Records.Find(saveCtx, RecordFilter{Stack: job.Stack, Job: job.Name, RunID: job.RunID}, 1); len(found) == 1 {
			rec = found[0]
			rec.Attached = true
		}
	case l.owner:
		r.nameNodes(saveCtx, rec.Attempts)
		r.keepSpec(saveCtx, job, &rec)
		if err := r.Records.Save(saveCtx, rec, kept(outputs, rec.Attempts)); err != nil {
			if rec.Spec != "" { // no record leads to it: nothing would prune it
				_, _ = r.Records.Engine.ConfigRemove(saveCtx, rec.Spec, client.ConfigRemoveOptions{})
			}
			then := fmt.Sprintf("the next run of %s removes the service", job.Name)
			if rec.Exec != nil { // an exec's service is no lock: no run clears it
				then = "remove it with docker service rm " + job.Spec.Name + " once read"
			}
			r.Report.Notice(job.Name, fmt.Sprintf("WARNING: the run's record could not be saved (%s): service %s is kept as its evidence (docker service ps %s --no-trunc); jobrun history and jobrun logs will not show this run; %s", OneLine(err), job.Spec.Name, job.Spec.Name, then))
			return rec, false
		}
	}
	return rec, true
}

// nodeNameTimeout bounds the naming of the attempts' nodes: the record
// that names them must still be saved within cleanupTimeout.
const nodeNameTimeout = 5 * time.Second

// nameNodes names each attempt's node in the record, best effort.
func (r *Runner) nameNodes(ctx context.Context, attempts []Attempt) {
	ctx, cancel := context.WithTimeout(ctx, nodeNameTimeout)
	defer cancel()
	NameNodes(ctx, r.Engine, attempts)
}

// removeOnce is step 5: once nothing of the job runs, the service goes if
// its record is saved, then the exited containers the engine keeps of it
// (reap); a service the user asked to keep joins the stack instead.
func (r *Runner) removeOnce(ctx context.Context, job Job, l lease, stopped, saved bool, attempts []Attempt) {
	if !stopped {
		return
	}
	removeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	switch {
	case r.Opts.Keep:
		r.joinStack(removeCtx, job, l.serviceID)
	case saved:
		if r.remove(removeCtx, job, l.serviceID) == nil {
			r.reap(removeCtx, job, l.serviceID, attempts)
		}
	}
}

// checkSurplus looks once more at every task of the service: more
// completions or tasks than the job asked for (a Swarm bug such as
// moby/moby#53632, or an update from elsewhere) must never read as one
// clean run.
func (r *Runner) checkSurplus(ctx context.Context, l lease, rec *Record) {
	list, err := r.Engine.TaskList(ctx, client.TaskListOptions{Filters: serviceFilter(l.serviceID)})
	tasks := list.Items
	if err != nil {
		return
	}
	if s := Surplus(Attempts(tasks, nil), rec.MaxRuns); s != "" {
		rec.Surplus = s
	}
}

// kept is the output to store with the record: that of the attempts whose
// output is not kept elsewhere (the engine forgets it with the task;
// CloudWatch keeps its streams).
func kept(outputs []AttemptOutput, attempts []Attempt) []AttemptOutput {
	elsewhere := map[int]bool{}
	for _, a := range attempts {
		elsewhere[a.Number] = a.LogStream != ""
	}
	var out []AttemptOutput
	for _, o := range outputs {
		if !elsewhere[o.Number] {
			out = append(out, o)
		}
	}
	return out
}

// pullHint says why a node may have found no such image: what Swarm reports
// when a pull from a private registry was refused.
func pullHint(image string, opts RunOptions) string {
	registry := "docker.io"
	if named, err := reference.ParseNormalizedNamed(image); err == nil {
		registry = reference.Domain(named)
	}
	hint := fmt.Sprintf("the nodes could not pull it from %s; jobrun found no credentials for %s in the docker config: push the image, or docker login %s", registry, registry, registry)
	switch {
	case opts.RegistryAuthErr != "":
		hint = fmt.Sprintf("the nodes could not pull it from %s anonymously, and jobrun could not read the credentials for it: %s", registry, opts.RegistryAuthErr)
	case opts.RegistryAuth != "":
		hint = fmt.Sprintf("the nodes could not pull it from %s with the credentials jobrun found for it in the docker config: check the tag exists and they may pull it", registry)
	}
	if strings.Contains(registry, ".dkr.ecr.") {
		hint += " (ECR logins expire after 12 hours: aws ecr get-login-password | docker login --username AWS --password-stdin " + registry + ")"
	}
	return hint
}

// pruneRecords is step 6: the job's records bounded (--keep-runs), best
// effort, after the verdict was printed.
func (r *Runner) pruneRecords(ctx context.Context, job Job) {
	if r.Opts.KeepRuns < 1 {
		return
	}
	pruneCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if _, err := r.Records.Prune(pruneCtx, job.Stack, job.Name, r.Opts.KeepRuns); err != nil {
		r.Report.Notice(job.Name, fmt.Sprintf("WARNING: could not prune old run records (%s): jobrun prune %s retries", OneLine(err), job.Name))
	}
}
