package exec

import (
	"context"
	"errors"
	"fmt"

	"jobrun/jobs"
)

// Exit codes of jobrun exec besides the command's own, as docker run's:
// a script tells "the command said no" from "jobrun could not run it".
const (
	ExitCannotRun   = 125 // jobrun or the engine failed (no such image, engine error)
	ExitNotRunnable = 126 // the command could not be invoked (the engine's code)
	ExitNotFound    = 127 // the command was not found (the engine's code)
	ExitTimedOut    = 124 // --timeout stopped it, as timeout(1) says
)

// ExitError carries the exit code of an exec: the command's own, or one
// of jobrun's (ExitCannotRun, ExitTimedOut, jobs.ExitInterrupted).
type ExitError struct {
	Code int
	Err  error // what went wrong; nil when the command ran and said so
	// printed: the exec's last line already said how it ended.
	printed bool
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("the command exited %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }
func (e *ExitError) ExitCode() int { return e.Code }
func (e *ExitError) Silent() bool  { return e.printed }

// exitCode is the command's own exit code when it ran to one (a stop it
// asked for is not the command's answer), else how jobrun failed.
func exitCode(rec jobs.Record, err error) error {
	if code, ran := rec.ExitCode(); ran && (rec.Outcome == jobs.Succeeded || rec.Outcome == jobs.Failed) {
		if code == 0 {
			return nil
		}
		return &ExitError{Code: code, printed: true}
	}
	return exitError(err)
}

// exitError maps how an exec ended to its exit code: the command's own
// code when it ran; usage errors stay exit 2, and a replay's node that
// takes no task 15; everything else jobrun or the engine could not do is
// 125.
func exitError(err error) error {
	var usage *jobs.UsageError
	var verdict *jobs.VerdictError
	var gone *jobs.NodeGoneError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &usage), errors.As(err, &gone):
		return err
	case errors.As(err, &verdict):
		return verdictExit(verdict.Outcome, err)
	case errors.Is(err, context.Canceled):
		return &ExitError{Code: jobs.ExitInterrupted, Err: err}
	}
	return &ExitError{Code: ExitCannotRun, Err: err}
}

// verdictExit is the code of an exec whose end was already printed.
func verdictExit(o jobs.Outcome, err error) error {
	switch o {
	case jobs.Interrupted:
		return &ExitError{Code: jobs.ExitInterrupted, Err: err, printed: true}
	case jobs.TimedOut:
		return &ExitError{Code: ExitTimedOut, Err: err, printed: true}
	}
	return &ExitError{Code: ExitCannotRun, Err: err, printed: true}
}
