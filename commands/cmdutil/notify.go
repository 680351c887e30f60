package cmdutil

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"jobrun/jobs"
	"jobrun/logs"
	"jobrun/notify"
)

// NotifyFlag is --notify: URLs to announce the verdict to.
func NotifyFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "notify", EnvVars: []string{"JOBRUN_NOTIFY"}, Usage: "POST the verdict as JSON to this URL once it is known (Slack and Mattermost webhooks get their text format); repeat for several"}
}

// CheckNotify says what is wrong with --notify URLs, before anything runs.
func CheckNotify(urls []string) error {
	for _, u := range urls {
		if err := notify.Check(u); err != nil {
			return &jobs.UsageError{Msg: err.Error()}
		}
	}
	return nil
}

// Announce sends ev to urls after the verdict was printed: a URL that
// cannot be reached is a WARNING, and never changes the exit code.
func Announce(ctx context.Context, f *Factory, report jobs.Reporter, urls []string, ev notify.Event) {
	if len(urls) == 0 {
		return
	}
	who := ev.Job
	if who == "" {
		who = ev.Kind
	}
	// Sent even after Ctrl-C: an interrupted release is news too.
	for _, err := range f.Notifier.Send(context.WithoutCancel(ctx), urls, ev) {
		report.Notice(who, fmt.Sprintf("WARNING: the verdict was not announced: %s", jobs.OneLine(err)))
	}
}

// RunEvent is what is announced of a job's run.
func RunEvent(rec jobs.Record, err error) notify.Event {
	ev := notify.Event{
		Kind: "run", Stack: rec.Stack, Job: rec.Job, Version: rec.Version, Verdict: string(rec.Outcome),
		ExitCode: jobs.ExitCodeOf(err), Attempts: len(rec.Attempts), Duration: rec.Ended.Sub(rec.Started),
		Reason: rec.Reason, Who: rec.Origin.Who, RunURL: rec.Origin.RunURL,
		Output: fmt.Sprintf("jobrun logs %s --stack %s --version %s", rec.Job, rec.Stack, rec.Version),
	}
	if n := len(rec.Attempts); n > 0 && rec.Attempts[n-1].LogStream != "" {
		ev.Output = logs.ConsoleURL(rec.LogRegion, rec.LogGroup, rec.Attempts[n-1].LogStream)
	}
	if rec.Ended.IsZero() {
		ev.Duration = time.Duration(0)
	}
	return ev
}
