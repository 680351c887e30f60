package commands

import (
	"errors"
	"fmt"
	"io"

	"jobrun/jobs"
)

// Exit says what went wrong, once and on one line (engine and ssh errors may
// have several) with its passwords hidden, and returns the exit code of its
// cause (jobs.ExitCodeOf: every error kind and its code are in
// jobs/errors.go; an interrupt is 130; anything else is a bug of jobrun's,
// 70, never a usage error it is not). It is the one place an error becomes
// an exit code.
func Exit(err error, stderr io.Writer) int {
	if err == nil {
		return jobs.ExitSucceeded
	}
	var silent interface{ Silent() bool }
	if !errors.As(err, &silent) || !silent.Silent() {
		fmt.Fprintln(stderr, "jobrun: "+jobs.Message(err))
	}
	return jobs.ExitCodeOf(err)
}
