package commands

import (
	"errors"
	"fmt"
	"io"

	"jobrun/commands/cmdutil"
	"jobrun/jobs"
)

// Exit says what went wrong, once and on one line with its passwords
// hidden, and returns the exit code of its cause: the one place an error
// becomes an exit code. Every error jobrun returns carries its code
// (jobs/errors.go lists them); an interrupt is 130; anything else is a bug
// of jobrun's (70), never a usage error it is not.
func Exit(err error, stderr io.Writer) int {
	if err == nil {
		return jobs.ExitSucceeded
	}
	var silent interface{ Silent() bool }
	if !errors.As(err, &silent) || !silent.Silent() {
		fmt.Fprintln(stderr, "jobrun: "+Message(err))
	}
	return ExitCode(err)
}

// ExitCode is the exit code of err's cause.
func ExitCode(err error) int { return jobs.ExitCodeOf(err) }

// Message is err as the user sees it: one line (engine and ssh errors may
// have several), passwords in URLs hidden.
func Message(err error) string { return cmdutil.Redact(jobs.OneLine(err)) }
