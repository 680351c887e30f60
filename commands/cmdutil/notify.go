package cmdutil

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"jobrun/jobs"
	"jobrun/logs"
	"jobrun/notify"
	"jobrun/retry"
)

// NotifyFlag is --notify: URLs to announce the verdict to.
func NotifyFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "notify", EnvVars: []string{"JOBRUN_NOTIFY"}, Usage: "POST the verdict as JSON to this URL once it is known (Slack and Mattermost webhooks get their text format); repeat for several"}
}

// NotifyURLs are the --notify URLs given. An empty one is none: a CI
// secret that is not set (a fork's build) expands to JOBRUN_NOTIFY="",
// which must not fail the release it would have announced.
func NotifyURLs(c *cli.Context) []string {
	return slices.DeleteFunc(slices.Clone(c.StringSlice("notify")), func(u string) bool { return strings.TrimSpace(u) == "" })
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

// Announcements sends each verdict as it comes, at once; Wait waits for
// them all (each bounded by the notifier's timeout). A URL that cannot be
// reached is a WARNING, and never changes the exit code.
type Announcements struct {
	ctx    context.Context
	f      *Factory
	report jobs.Reporter
	urls   []string
	wg     sync.WaitGroup
}

// NewAnnouncements announces to urls; none: Send does nothing.
func NewAnnouncements(ctx context.Context, f *Factory, report jobs.Reporter, urls []string) *Announcements {
	// Sent even after Ctrl-C: an interrupted release is news too.
	return &Announcements{ctx: context.WithoutCancel(ctx), f: f, report: report, urls: urls}
}

// Send announces ev without waiting: the verdict line was printed, and what
// comes next (another job, the -o json document) must not wait for a webhook.
func (a *Announcements) Send(ev notify.Event) {
	if len(a.urls) == 0 {
		return
	}
	who := ev.Job
	if who == "" {
		who = ev.Kind
	}
	n := a.f.Notifier
	if n.Clock.After == nil { // the command's clock, which its tests drive
		n.Clock = retry.Clock{Now: a.f.Now, After: a.f.After}
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for _, err := range n.Send(a.ctx, a.urls, ev) {
			a.report.Notice(who, fmt.Sprintf("WARNING: the verdict was not announced: %s", jobs.OneLine(err)))
		}
	}()
}

// Wait waits for every announcement sent.
func (a *Announcements) Wait() { a.wg.Wait() }

// RunEvent is what is announced of a job's run, by origin: a run that
// found its version already succeeded is "skipped", one that ended before
// a verdict (another version running, the engine lost) is "error" with why.
func RunEvent(rec jobs.Record, err error, origin jobs.Origin) notify.Event {
	ev := notify.Event{
		Kind: "run", Stack: rec.Stack, Job: rec.Job, Version: rec.Version, Verdict: string(rec.Outcome),
		ExitCode: jobs.ExitCodeOf(err), Attempts: jobs.RanAttempts(rec.Attempts), Duration: rec.Ended.Sub(rec.Started),
		Reason: rec.Reason, Who: origin.Who, RunURL: origin.RunURL,
		Output: fmt.Sprintf("jobrun logs %s --stack %s --version %s", rec.Job, rec.Stack, rec.Version),
	}
	switch {
	case rec.Skipped:
		ev.Verdict, ev.Attempts, ev.Duration = "skipped", 0, 0
		ev.Reason = fmt.Sprintf("version %s already succeeded (run %s): not run again", rec.Version, rec.RunID)
	case rec.Outcome == "":
		ev.Verdict, ev.Reason = "error", jobs.Message(err)
	}
	if rec.Ended.IsZero() || rec.Skipped {
		ev.Duration = 0
	}
	if n := len(rec.Attempts); n > 0 && rec.Attempts[n-1].LogStream != "" && !rec.Skipped {
		ev.Output = logs.ConsoleURL(rec.LogRegion, rec.LogGroup, rec.Attempts[n-1].LogStream)
	}
	return ev
}
