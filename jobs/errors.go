package jobs

import (
	"context"
	"errors"
	"strings"
)

// Exit codes, one per way a run can end. They are part of jobrun's interface:
// deploy pipelines branch on them, so never renumber one.
const (
	ExitSucceeded   = 0
	ExitFailed      = 1  // every attempt failed
	ExitUsage       = 2  // bad flag, stack file or job definition
	ExitRejected    = 3  // the engine refused the task (no such image, bad mount...)
	ExitPending     = 4  // no node could take the task within --pending-timeout
	ExitTimedOut    = 5  // --timeout elapsed; the job was stopped
	ExitRemoved     = 6  // the job service was removed outside jobrun
	ExitEngine      = 7  // engine unreachable, not a swarm manager, or an API error
	ExitConflict    = 8  // another version of the job is running, or another deploy of the stack
	ExitRolledBack  = 9  // jobrun deploy: a service's update was rolled back
	ExitPaused      = 10 // jobrun deploy: a service's update paused
	ExitCloudWatch  = 11 // CloudWatch Logs or its AWS configuration: credentials, region, log group, unreachable, a failed read
	ExitOutput      = 12 // jobrun could not write what it was asked to (stdout closed or full)
	ExitRefused     = 13 // jobrun rollback: a pre-deploy job ran since the release it would put back (--force)
	ExitPlanWarning = 14 // jobrun deploy --dry-run, jobrun plan: a job's plan failed, timed out or could not start
	ExitNodeGone    = 15 // jobrun exec --run: the attempt's node left the swarm, or takes no task (drained, down)
	ExitInternal    = 70 // an error jobrun did not classify: a bug (sysexits' EX_SOFTWARE)
	ExitInterrupted = 130
)

// UsageError is a mistake the user can fix by changing a flag or the stack
// file; Msg is one line that names the fix.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }
func (e *UsageError) ExitCode() int { return ExitUsage }

// EngineError is a problem reaching or using the Docker engine.
type EngineError struct {
	Msg string
	Err error
}

func (e *EngineError) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}
func (e *EngineError) Unwrap() error { return e.Err }
func (e *EngineError) ExitCode() int { return ExitEngine }

// CloudWatchError is a problem reading CloudWatch Logs or configuring the
// AWS SDK for it; Msg names the fix.
type CloudWatchError struct {
	Msg string
	Err error
}

func (e *CloudWatchError) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}
func (e *CloudWatchError) Unwrap() error { return e.Err }
func (e *CloudWatchError) ExitCode() int { return ExitCloudWatch }

// OutputError means jobrun could not write its own output (the -o json
// document, a recorded run's output): the reader went away or the disk is
// full. A job's live output never fails a run (the reporter copes).
type OutputError struct{ Err error }

func (e *OutputError) Error() string {
	return "cannot write the output: " + e.Err.Error() + ": check where stdout goes"
}
func (e *OutputError) Unwrap() error { return e.Err }
func (e *OutputError) ExitCode() int { return ExitOutput }

// ConflictError means another version of the same job holds the lock.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }
func (e *ConflictError) ExitCode() int { return ExitConflict }

// RefusedError is an action jobrun would not take without --force, and
// why: Msg names the risk and the fix.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }
func (e *RefusedError) ExitCode() int { return ExitRefused }

// NodeGoneError means a recorded attempt cannot be replayed on its node:
// the node left the swarm, or Swarm places no task on it now.
type NodeGoneError struct{ Msg string }

func (e *NodeGoneError) Error() string { return e.Msg }
func (e *NodeGoneError) ExitCode() int { return ExitNodeGone }

// VerdictError carries a finished run's outcome once it has been reported,
// so main exits with its code without printing it again.
type VerdictError struct{ Outcome Outcome }

func (e *VerdictError) Error() string { return "job " + string(e.Outcome) }
func (e *VerdictError) ExitCode() int { return e.Outcome.ExitCode() }
func (e *VerdictError) Silent() bool  { return true }

// PlanWarningError is a preview whose plans did not all run to success:
// each was said as a WARNING where it belongs, so main only exits with
// its code.
type PlanWarningError struct{ Jobs []string }

func (e *PlanWarningError) Error() string {
	return "the plan of " + strings.Join(e.Jobs, ", ") + " did not run to success"
}
func (e *PlanWarningError) ExitCode() int { return ExitPlanWarning }
func (e *PlanWarningError) Silent() bool  { return true }

// ReportedError is an error a verdict line already said: main exits with
// its code without printing it again.
type ReportedError struct{ Err error }

func (e *ReportedError) Error() string { return e.Err.Error() }
func (e *ReportedError) Unwrap() error { return e.Err }
func (e *ReportedError) Silent() bool  { return true }

// ReleaseError is a release whose services did not all converge: Code
// says how (rolled back, paused, timed out).
type ReleaseError struct {
	Msg  string
	Code int
}

func (e *ReleaseError) Error() string { return e.Msg }
func (e *ReleaseError) ExitCode() int { return e.Code }
func (e *ReleaseError) Silent() bool  { return true } // the release's verdict line says it

// ExitCodeOf is the exit code of err's cause: the code its kind carries
// (the kinds above), 130 for an interrupt, and 70 for anything else — a
// bug of jobrun's, never a usage error it is not.
func ExitCodeOf(err error) int {
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		return ExitSucceeded
	case errors.Is(err, context.Canceled):
		// Before the kinds: Ctrl-C during a read of records or CloudWatch
		// comes wrapped in the engine's or CloudWatch's error.
		return ExitInterrupted
	case errors.As(err, &coded):
		return coded.ExitCode()
	}
	return ExitInternal
}
