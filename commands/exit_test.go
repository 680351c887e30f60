package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"jobrun/jobs"
)

// TestExitCodes maps each kind of error a user can meet to its code, and
// checks what is said: one line, passwords hidden, nothing for an error
// whose verdict was already printed.
func TestExitCodes(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code int
		say  string // "" = silent
	}{
		{"success", nil, 0, ""},
		{"usage", &jobs.UsageError{Msg: "--stack is required"}, jobs.ExitUsage, "jobrun: --stack is required"},
		{"engine", &jobs.EngineError{Msg: "list tasks", Err: errors.New("connection refused\nretrying")}, jobs.ExitEngine, "jobrun: list tasks: connection refused retrying"},
		{"engine password hidden", &jobs.EngineError{Msg: "cannot reach tcp://ops:s3cret@manager:2376"}, jobs.ExitEngine, "jobrun: cannot reach tcp://ops:***@manager:2376"},
		{"cloudwatch", &jobs.CloudWatchError{Msg: "read attempt 1's output", Err: errors.New("no such host")}, jobs.ExitCloudWatch, "jobrun: read attempt 1's output: no such host"},
		{"output", &jobs.OutputError{Err: errors.New("broken pipe")}, jobs.ExitOutput, "jobrun: cannot write the output: broken pipe: check where stdout goes"},
		{"conflict", &jobs.ConflictError{Msg: "version 2 is running"}, jobs.ExitConflict, "jobrun: version 2 is running"},
		{"failed verdict", &jobs.VerdictError{Outcome: jobs.Failed}, jobs.ExitFailed, ""},
		{"rejected verdict", &jobs.VerdictError{Outcome: jobs.Rejected}, jobs.ExitRejected, ""},
		{"pending verdict", &jobs.VerdictError{Outcome: jobs.Pending}, jobs.ExitPending, ""},
		{"timed out verdict", &jobs.VerdictError{Outcome: jobs.TimedOut}, jobs.ExitTimedOut, ""},
		{"removed verdict", &jobs.VerdictError{Outcome: jobs.Removed}, jobs.ExitRemoved, ""},
		{"interrupted verdict", &jobs.VerdictError{Outcome: jobs.Interrupted}, jobs.ExitInterrupted, ""},
		{"rolled back", &jobs.ReleaseError{Msg: "app rolled back", Code: jobs.ExitRolledBack}, jobs.ExitRolledBack, ""},
		{"paused", &jobs.ReleaseError{Msg: "app paused", Code: jobs.ExitPaused}, jobs.ExitPaused, ""},
		{"wrapped keeps its code", fmt.Errorf("job migrate: %w", &jobs.CloudWatchError{Msg: "log group"}), jobs.ExitCloudWatch, "jobrun: job migrate: log group"},
		{"said by a verdict already", &jobs.ReportedError{Err: &jobs.EngineError{Msg: "create network"}}, jobs.ExitEngine, ""},
		{"interrupt", context.Canceled, jobs.ExitInterrupted, "jobrun: context canceled"},
		{"interrupt inside a CloudWatch error", &jobs.CloudWatchError{Msg: "job migrate", Err: fmt.Errorf("check log group: %w", context.Canceled)}, jobs.ExitInterrupted, "jobrun: job migrate: check log group: context canceled"},
		{"unclassified is a bug, not usage", errors.New("something new"), jobs.ExitInternal, "jobrun: something new"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := Exit(c.err, &stderr); got != c.code {
				t.Errorf("exit code %d, want %d", got, c.code)
			}
			want := ""
			if c.say != "" {
				want = c.say + "\n"
			}
			if stderr.String() != want {
				t.Errorf("said %q, want %q", stderr.String(), want)
			}
		})
	}
}
